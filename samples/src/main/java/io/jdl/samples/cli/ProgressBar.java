package io.jdl.samples.cli;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A one-line progress bar for training loops: position, loss, throughput (samples or tokens per second) and
 * the time left.
 *
 * <pre>epoch 2/10 [=========>          ]  47%  28160/60000  loss 0.4213  5.31k samples/s  ETA 0:06</pre>
 *
 * On a terminal the line is redrawn in place ({@code \r}) at most ten times a second; when the output is a
 * file or a pipe (CI logs) a new line is printed at every tenth of the way instead, so logs stay short.
 * {@link #close()} prints the final line with the elapsed time and ends it with a newline.
 *
 * <p>Throughput is the work done since the bar started divided by the time since then, and the time left is
 * the remaining work at that rate. {@link #format} is the pure formatting function, for tests.
 *
 * <p>Not thread-safe: update it from the training thread.
 */
public final class ProgressBar implements AutoCloseable {
    private static final int BAR = 20;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final String label, unit;
    private final long total;
    private final PrintStream out;
    private final boolean interactive;
    private final LongSupplier clock;
    private final long start;
    private long done, lastDraw = Long.MIN_VALUE;
    private int lastDecile = -1;
    private double loss = Double.NaN;
    private int lastLength;
    private boolean closed;

    /**
     * A bar on standard error, redrawn in place when it is a terminal.
     *
     * @param label shown first, e.g. {@code "epoch 1/5"}
     * @param total units of work in all (samples or tokens), > 0
     * @param unit  the unit's name, e.g. {@code "samples"} or {@code "tokens"}
     */
    public ProgressBar(String label, long total, String unit) {
        this(label, total, unit, System.err, System.console() != null, System::nanoTime);
    }

    /** A bar on {@code out}; {@code interactive} selects in-place redrawing; {@code clock} gives nanoseconds. */
    public ProgressBar(String label, long total, String unit, PrintStream out, boolean interactive, LongSupplier clock) {
        if (total <= 0) {
            throw new IllegalArgumentException("total must be > 0, got " + total);
        }
        this.label = label;
        this.total = total;
        this.unit = unit;
        this.out = out;
        this.interactive = interactive;
        this.clock = clock;
        this.start = clock.getAsLong();
    }

    /** Records {@code units} more work done, with the latest loss (NaN when there is none), and redraws if due. */
    public void advance(long units, double loss) {
        if (closed) {
            throw new IllegalStateException("progress bar closed");
        }
        done = Math.min(total, done + units);
        this.loss = loss;
        long now = clock.getAsLong();
        if (interactive) {
            if (now - lastDraw >= REDRAW_NANOS || done == total) {
                draw(now, false);
                lastDraw = now;
            }
        } else {
            int decile = (int) (done * 10 / total);
            if (decile != lastDecile && decile < 10) {
                lastDecile = decile;
                draw(now, false);
            }
        }
    }

    /** Work done so far. */
    public long done() {
        return done;
    }

    /** Seconds since the bar started. */
    public double elapsedSeconds() {
        return (clock.getAsLong() - start) / 1e9;
    }

    /** Prints the final line (with the elapsed time instead of the time left) and a newline. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        draw(clock.getAsLong(), true);
        if (interactive) {
            out.println();
        }
        out.flush();
        closed = true;
    }

    private void draw(long now, boolean last) {
        double elapsed = (now - start) / 1e9;
        String line = format(label, done, total, loss, elapsed, unit, BAR);
        if (last) {
            line = line.replaceFirst("ETA \\S+$", "took " + duration(elapsed));
        }
        if (interactive) {
            int pad = Math.max(0, lastLength - line.length());
            out.print("\r" + line + " ".repeat(pad));
            lastLength = line.length();
        } else {
            out.println(line);
        }
        out.flush();
    }

    /**
     * The bar's text: label, bar of {@code barWidth} characters, percentage, done/total, loss (omitted when
     * NaN), throughput in {@code unit}/s and the time left ({@code ETA ?} before any work or time has passed).
     */
    public static String format(String label, long done, long total, double loss, double elapsedSeconds, String unit,
            int barWidth) {
        double frac = total <= 0 ? 0 : Math.max(0, Math.min(1, done / (double) total));
        int filled = (int) (frac * barWidth);
        StringBuilder bar = new StringBuilder(barWidth + 2).append('[');
        for (int i = 0; i < barWidth; i++) {
            bar.append(i < filled ? '=' : i == filled && frac < 1 ? '>' : ' ');
        }
        bar.append(']');
        int width = Long.toString(total).length();
        StringBuilder sb = new StringBuilder();
        if (label != null && !label.isEmpty()) {
            sb.append(label).append(' ');
        }
        sb.append(bar).append(String.format(Locale.ROOT, " %3d%%  %" + width + "d/%d", (int) (frac * 100), done, total));
        if (!Double.isNaN(loss)) {
            sb.append(String.format(Locale.ROOT, "  loss %.4f", loss));
        }
        double rate = elapsedSeconds > 0 ? done / elapsedSeconds : 0;
        sb.append("  ").append(rate > 0 ? si(rate) : "-").append(' ').append(unit).append("/s");
        sb.append("  ETA ").append(rate > 0 ? duration((total - done) / rate) : "?");
        return sb.toString();
    }

    /** 950 -> "950", 12345 -> "12.3k", 2.5e6 -> "2.50M". */
    static String si(double v) {
        if (v < 1000) {
            return String.format(Locale.ROOT, v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v);
        }
        String[] units = {"k", "M", "G"};
        int i = -1;
        while (v >= 1000 && i < units.length - 1) {
            v /= 1000;
            i++;
        }
        return String.format(Locale.ROOT, v < 10 ? "%.2f%s" : v < 100 ? "%.1f%s" : "%.0f%s", v, units[i]);
    }

    /** 65 s -> "1:05", 3725 s -> "1:02:05". */
    static String duration(double seconds) {
        if (!Double.isFinite(seconds) || seconds < 0) {
            return "?";
        }
        long s = Math.round(seconds);
        long h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, sec) : String.format(Locale.ROOT, "%d:%02d", m, sec);
    }
}
