package io.jdl.io;

import io.jdl.device.Device;
import io.jdl.nn.Module;
import io.jdl.nn.Stochastic;
import io.jdl.optim.GradScaler;
import io.jdl.optim.Optimizer;
import io.jdl.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Saves and restores training: a module's state dict, the optimizer's state (moments, momentum buffers,
 * per-parameter step counts, learning rate), the modules' random state (dropout seeds) and the position in the
 * data, with free-form metadata, in one safetensors file written atomically. A run resumed from it continues
 * exactly: on the CPU it ends bit-identical to an uninterrupted run.
 *
 * <pre>{@code
 * Checkpoint.save(file, model, optimizer, new Checkpoint.Progress(epoch, batchInEpoch, step),
 *         Map.of("sample", "mlp", "hidden", "512"));
 * // later, after building the same model and optimizer:
 * Checkpoint.Resumed r = Checkpoint.load(file, model, optimizer);
 * for (int epoch = r.progress().epoch(); epoch < epochs; epoch++) {
 *     optimizer.setLr(schedule.lr(epoch));
 *     try (DataLoader.Epoch batches = loader.epoch(epoch, epoch == r.progress().epoch() ? r.progress().batchInEpoch() : 0)) {
 *         ...
 * }</pre>
 *
 * <p><b>Layout.</b> Tensor names say what they are: {@code model.<state dict name>} (in the dtype the module
 * holds each in), {@code optimizer.<index>.<name>} (PyTorch's state names: {@code exp_avg}, {@code exp_avg_sq},
 * {@code momentum_buffer}; {@code step} as I64), {@code rng.<module path>} (I64 next seed of each
 * {@link Stochastic} module). The metadata holds the caller's entries and {@code jdl.*} entries for the
 * progress, the learning rate and the optimizer's class, and, when a {@link GradScaler} is given, its state as
 * {@code jdl.scaler.<PyTorch's state_dict key>} ({@code scale}, {@code growth_factor}, {@code backoff_factor},
 * {@code growth_interval}, {@code _growth_tracker}). PyTorch reads the file with
 * {@code safetensors.torch.load_file}; strip the {@code model.} prefix for {@code load_state_dict}.
 * {@link #saveModel} writes a plain state dict instead.
 *
 * <p><b>Checks on load.</b> The file must match the model (every name, shape) and the optimizer (its class,
 * each parameter's state), and the model's values must be finite: a checkpoint of a run that diverged
 * to NaN is refused rather than trained on. Nothing is changed when a check fails.
 */
public final class Checkpoint {
    private static final String MODEL = "model.", OPTIMIZER = "optimizer.", RNG = "rng.", META = "jdl.",
            SCALER = META + "scaler.";

    private Checkpoint() {
    }

    /**
     * Where training stands: the next batch to train is batch {@code batchInEpoch} of epoch {@code epoch}
     * (0-based), after {@code step} optimizer steps in all.
     */
    public record Progress(int epoch, int batchInEpoch, long step) {
        /** @throws IllegalArgumentException when a count is negative */
        public Progress {
            if (epoch < 0 || batchInEpoch < 0 || step < 0) {
                throw new IllegalArgumentException("progress counts must be >= 0, got epoch " + epoch + ", batchInEpoch "
                        + batchInEpoch + ", step " + step);
            }
        }
    }

    /** What {@link #load} restored besides the tensors: the progress, the learning rate and the caller's metadata. */
    public record Resumed(Progress progress, float lr, Map<String, String> metadata) {
    }

    /**
     * Writes a training checkpoint atomically (see {@link Safetensors#write}).
     *
     * @param metadata the caller's entries (sample name, architecture settings...); keys must not start with
     *                 {@code jdl.}
     */
    public static void save(Path file, Module model, Optimizer optimizer, Progress progress,
                            Map<String, String> metadata) throws IOException {
        save(file, model, optimizer, null, progress, metadata);
    }

    /**
     * Writes a training checkpoint with the loss scaler's state too (none for a disabled or null {@code scaler}).
     *
     * @param metadata the caller's entries; keys must not start with {@code jdl.}
     */
    public static void save(Path file, Module model, Optimizer optimizer, GradScaler scaler, Progress progress,
                            Map<String, String> metadata) throws IOException {
        Objects.requireNonNull(progress, "progress");
        Map<String, String> meta = new LinkedHashMap<>();
        metadata.forEach((k, v) -> {
            if (k.startsWith(META)) {
                throw new IllegalArgumentException("metadata key '" + k + "' uses the reserved prefix " + META);
            }
            meta.put(k, v);
        });
        meta.put(META + "epoch", Integer.toString(progress.epoch()));
        meta.put(META + "batch_in_epoch", Integer.toString(progress.batchInEpoch()));
        meta.put(META + "step", Long.toString(progress.step()));
        meta.put(META + "lr", Float.toString(optimizer.lr()));
        meta.put(META + "optimizer", optimizer.getClass().getName());
        if (scaler != null && scaler.isEnabled()) {
            GradScaler.State st = scaler.state();
            meta.put(SCALER + "scale", Float.toString(st.scale()));
            meta.put(SCALER + "growth_factor", Double.toString(st.growthFactor()));
            meta.put(SCALER + "backoff_factor", Double.toString(st.backoffFactor()));
            meta.put(SCALER + "growth_interval", Integer.toString(st.growthInterval()));
            meta.put(SCALER + "_growth_tracker", Integer.toString(st.growthTracker()));
        }
        List<NamedArray> arrays = new ArrayList<>(stateDictArrays(model, MODEL));
        optimizer.state().forEach((k, t) -> arrays.add(new NamedArray(OPTIMIZER + k, t.shape().dims(), t.toArray())));
        optimizer.counters().forEach((k, v) -> arrays.add(NamedArray.ofLongs(OPTIMIZER + k, new int[0], v)));
        stochastic(model, "").forEach((path, m) -> arrays.add(NamedArray.ofLongs(RNG + path, new int[0], m.seeds().peek())));
        Safetensors.write(file, arrays, meta);
    }

    /**
     * Restores {@code model} and {@code optimizer} (built as when the checkpoint was saved) from {@code file}.
     *
     * @throws SafetensorsException when the file is not a checkpoint of this model and optimizer, or holds
     *                              non-finite model values; nothing is changed then
     */
    public static Resumed load(Path file, Module model, Optimizer optimizer) throws IOException {
        return load(file, model, optimizer, null);
    }

    /**
     * Restores {@code model}, {@code optimizer} and the loss scaler from {@code file}. A checkpoint saved with an
     * enabled scaler needs an enabled {@code scaler} here and the other way round (a run resumed without its scale
     * would restart it at 2^16 and skip steps); a disabled scaler is left as it is, as PyTorch's.
     *
     * @throws SafetensorsException when the file is not a checkpoint of this model, optimizer and scaler, or holds
     *                              non-finite model values; nothing is changed then
     */
    public static Resumed load(Path file, Module model, Optimizer optimizer, GradScaler scaler) throws IOException {
        Safetensors.Contents c = Safetensors.read(file);
        Map<String, String> meta = c.metadata();
        String optimizerClass = meta.get(META + "optimizer");
        if (!optimizer.getClass().getName().equals(optimizerClass)) {
            throw new SafetensorsException(file + ": checkpoint of a " + (optimizerClass == null ? "run without an"
                    + " optimizer (not a training checkpoint?)" : optimizerClass) + ", not of "
                    + optimizer.getClass().getName());
        }
        Progress progress;
        float lr;
        try {
            progress = new Progress(Integer.parseInt(meta.get(META + "epoch")),
                    Integer.parseInt(meta.get(META + "batch_in_epoch")), Long.parseLong(meta.get(META + "step")));
            lr = Float.parseFloat(meta.get(META + "lr"));
        } catch (RuntimeException e) {
            throw new SafetensorsException(file + ": bad progress metadata: " + e.getMessage(), e);
        }
        Map<String, NamedArray> modelArrays = new LinkedHashMap<>(), optimizerArrays = new LinkedHashMap<>();
        Map<String, Long> counters = new LinkedHashMap<>(), seeds = new LinkedHashMap<>();
        for (NamedArray a : c.tensors().values()) {
            String n = a.name();
            if (n.startsWith(MODEL)) {
                modelArrays.put(n.substring(MODEL.length()), a);
            } else if (n.startsWith(OPTIMIZER) && n.endsWith(".step")) {
                counters.put(n.substring(OPTIMIZER.length()), scalarLong(file, a));
            } else if (n.startsWith(OPTIMIZER)) {
                optimizerArrays.put(n.substring(OPTIMIZER.length()), a);
            } else if (n.startsWith(RNG)) {
                seeds.put(n.substring(RNG.length()), scalarLong(file, a));
            } else {
                throw new SafetensorsException(file + ": unexpected tensor '" + n + "' in a training checkpoint");
            }
        }
        checkStateDict(file, model, modelArrays);
        GradScaler.State scalerState = scalerState(file, meta, scaler);
        Map<String, Stochastic> stochastic = stochastic(model, "");
        if (!stochastic.keySet().equals(seeds.keySet())) {
            throw new SafetensorsException(file + ": random state for modules " + seeds.keySet() + ", the model's"
                    + " dropout modules are " + stochastic.keySet());
        }
        Map<String, Tensor> optimizerState = toTensors(optimizerArrays, false);
        try {
            // The model's entries are checked above and the optimizer checks its own before changing anything, so a
            // failure leaves both as they were.
            optimizer.loadState(optimizerState, counters);
            loadStateDict(file, model, modelArrays);
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(file + ": " + e.getMessage(), e);
        } finally {
            optimizerState.values().forEach(Tensor::close);
        }
        optimizer.setLr(lr);
        if (scalerState != null) {
            scaler.loadState(scalerState);
        }
        stochastic.forEach((path, m) -> m.seeds().set(seeds.get(path)));
        Map<String, String> callers = new LinkedHashMap<>(meta);
        callers.keySet().removeIf(k -> k.startsWith(META));
        return new Resumed(progress, lr, Map.copyOf(callers));
    }

    /** The scaler state saved in {@code meta}, or null when neither the file nor {@code scaler} has one. */
    private static GradScaler.State scalerState(Path file, Map<String, String> meta, GradScaler scaler)
            throws SafetensorsException {
        boolean saved = meta.containsKey(SCALER + "scale");
        boolean wanted = scaler != null && scaler.isEnabled();
        if (saved != wanted) {
            throw new SafetensorsException(file + (saved ? ": the checkpoint holds a GradScaler's state; pass an enabled"
                    + " GradScaler to load it" : ": the checkpoint was saved without a GradScaler (or with a disabled"
                    + " one), but an enabled GradScaler was given"));
        }
        if (!saved) {
            return null;
        }
        try {
            return new GradScaler.State(Float.parseFloat(meta.get(SCALER + "scale")),
                    Double.parseDouble(meta.get(SCALER + "growth_factor")),
                    Double.parseDouble(meta.get(SCALER + "backoff_factor")),
                    Integer.parseInt(meta.get(SCALER + "growth_interval")),
                    Integer.parseInt(meta.get(SCALER + "_growth_tracker")));
        } catch (RuntimeException e) {
            throw new SafetensorsException(file + ": bad GradScaler metadata: " + e.getMessage(), e);
        }
    }

    /**
     * Writes {@code model}'s state dict alone, with PyTorch's names, so that
     * {@code model.load_state_dict(safetensors.torch.load_file(file))} reads it.
     */
    public static void saveModel(Path file, Module model, Map<String, String> metadata) throws IOException {
        Safetensors.write(file, stateDictArrays(model, ""), metadata);
    }

    /**
     * Loads a state dict (from {@link #saveModel} or PyTorch's {@code safetensors.torch.save_file(model.state_dict())},
     * whose {@code num_batches_tracked} is I64) into {@code model}: names and shapes must match exactly; each value is
     * read in the file's dtype, bit for bit, and converted to the dtype of the module's tensor as PyTorch's
     * {@code load_state_dict} does when it copies ({@link io.jdl.nn.Module#loadStateDict}): F16 and BF16 into float32
     * exactly (every half is a float32, so a state dict saved with {@code model.half()} or {@code model.bfloat16()}
     * loads its exact values), integers exactly up to 2^24. A training checkpoint from {@link #save} works too: its {@code model.}
     * entries are loaded and the optimizer's state is ignored (evaluating needs only the weights).
     *
     * @return the file's metadata
     * @throws SafetensorsException on a missing, extra or misshapen entry or a non-finite value; nothing changes then
     */
    public static Map<String, String> loadModel(Path file, Module model) throws IOException {
        Safetensors.Contents c = Safetensors.read(file);
        Map<String, NamedArray> arrays = c.tensors();
        if (isTraining(c.metadata())) {
            arrays = new LinkedHashMap<>();
            for (NamedArray a : c.tensors().values()) {
                if (a.name().startsWith(MODEL)) {
                    arrays.put(a.name().substring(MODEL.length()), a);
                }
            }
        }
        try {
            loadStateDict(file, model, arrays);
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(file + ": " + e.getMessage(), e);
        }
        return c.metadata();
    }

    /**
     * Whether {@code metadata} (of a safetensors file) is that of a training checkpoint written by {@link #save},
     * as opposed to a plain state dict: {@link #load} needs the former.
     */
    public static boolean isTraining(Map<String, String> metadata) {
        return metadata.containsKey(META + "optimizer");
    }

    private static List<NamedArray> stateDictArrays(Module model, String prefix) {
        List<NamedArray> arrays = new ArrayList<>();
        model.stateDict().forEach((name, t) -> arrays.add(TensorArrays.of(prefix + name, t)));
        return arrays;
    }

    /** Throws unless {@code arrays} has exactly the names and shapes of {@code model}'s state dict, all finite. */
    private static void checkStateDict(Path file, Module model, Map<String, NamedArray> arrays) throws SafetensorsException {
        Map<String, Tensor> mine = model.stateDict();
        for (Map.Entry<String, Tensor> e : mine.entrySet()) {
            NamedArray a = arrays.get(e.getKey());
            if (a == null) {
                throw new SafetensorsException(file + ": no entry for the model's '" + e.getKey() + "'");
            }
            if (!java.util.Arrays.equals(a.shape(), e.getValue().shape().dims())) {
                throw new SafetensorsException(file + ": '" + e.getKey() + "' has shape "
                        + java.util.Arrays.toString(a.shape()) + ", the model's is " + e.getValue().shape());
            }
        }
        for (String name : arrays.keySet()) {
            if (!mine.containsKey(name)) {
                throw new SafetensorsException(file + ": entry '" + name + "' is not in the model's state dict");
            }
        }
        for (NamedArray a : arrays.values()) {
            float[] data = a.data();
            for (int i = 0; i < data.length; i++) {
                if (!Float.isFinite(data[i])) {
                    throw new SafetensorsException(file + ": '" + a.name() + "' holds " + data[i] + " at element " + i
                            + ": the run that wrote it diverged; resume from an earlier checkpoint");
                }
            }
        }
    }

    private static void loadStateDict(Path file, Module model, Map<String, NamedArray> arrays) throws SafetensorsException {
        checkStateDict(file, model, arrays);
        Map<String, Tensor> state = toTensors(arrays, true);
        try {
            model.loadStateDict(state);
        } finally {
            state.values().forEach(Tensor::close);
        }
    }

    /** CPU tensors of the arrays, in their own dtypes or all converted to float32 (the optimizer's state). */
    private static Map<String, Tensor> toTensors(Map<String, NamedArray> arrays, boolean keepDtypes) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            arrays.forEach((name, a) -> out.put(name, keepDtypes ? TensorArrays.toTensor(a, Device.CPU)
                    : Tensor.of(a.data(), a.shape())));
        } catch (RuntimeException e) {
            out.values().forEach(Tensor::close);
            throw e;
        }
        return out;
    }

    private static long scalarLong(Path file, NamedArray a) throws SafetensorsException {
        if (a.numel() != 1 || a.dtype().isFloatingPoint()) {
            throw new SafetensorsException(file + ": '" + a.name() + "' must be one integer, is " + a.dtype().safetensorsName() + " "
                    + java.util.Arrays.toString(a.shape()));
        }
        return a.longs()[0];
    }

    /** The {@link Stochastic} modules in {@code m} by dotted path ({@code self} for {@code m} itself). */
    private static Map<String, Stochastic> stochastic(Module m, String path) {
        Map<String, Stochastic> out = new LinkedHashMap<>();
        if (m instanceof Stochastic s) {
            out.put(path.isEmpty() ? "self" : path, s);
        }
        m.children().forEach((name, child) -> out.putAll(stochastic(child, path.isEmpty() ? name : path + "." + name)));
        return out;
    }
}
