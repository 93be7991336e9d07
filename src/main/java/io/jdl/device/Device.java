package io.jdl.device;

import io.jdl.cuda.CudaDevice;
import java.util.Locale;

/** Where a tensor lives: the CPU, or CUDA device {@code index}. */
public record Device(Kind kind, int index) {

    public enum Kind { CPU, CUDA }

    public static final Device CPU = new Device(Kind.CPU, 0);

    public Device {
        if (kind == null) {
            throw new IllegalArgumentException("device kind is null: use Device.CPU or Device.cuda(index)");
        }
        if (index < 0 || (kind == Kind.CPU && index != 0)) {
            throw new IllegalArgumentException("bad device index " + index + " for " + kind);
        }
    }

    public static Device cuda(int index) {
        return new Device(Kind.CUDA, index);
    }

    /** cuda:0 when a usable GPU exists, else the CPU. */
    public static Device best() {
        return CudaDevice.isAvailable() ? cuda(0) : CPU;
    }

    /** Parses "cpu", "cuda" or "cuda:N". */
    public static Device parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("device is null: expected cpu, cuda or cuda:N");
        }
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("cpu")) {
            return CPU;
        }
        if (t.equals("cuda") || t.equals("gpu")) {
            return cuda(0);
        }
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("unknown device '" + text + "': expected cpu, cuda or cuda:N");
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
