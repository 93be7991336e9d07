package io.jdl.samples.cli;

/**
 * A mistake the user can fix: a flag with a value that cannot work. The launcher prints it as one line,
 * {@code error: --flag VALUE: problem}, without a stack trace, and exits with {@link #exitCode()}:
 * 2 for a value that is wrong on any machine (usage), 1 for one that this machine or file system
 * refuses (a missing file, an absent GPU).
 */
public final class UserError extends RuntimeException {
    /** Exit code of a value that is wrong whatever the machine. */
    public static final int USAGE = 2;
    /** Exit code of a value that this machine refuses, or of a run that failed. */
    public static final int RUNTIME = 1;

    private final int exitCode;

    private UserError(String message, int exitCode, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    /** {@code flag value}: {@code problem}, exit code 2. */
    public static UserError usage(String flag, Object value, String problem) {
        return new UserError(flag + " " + value + ": " + problem, USAGE, null);
    }

    /** A usage mistake that is not about one flag's value (e.g. two flags that exclude each other). */
    public static UserError usage(String problem) {
        return new UserError(problem, USAGE, null);
    }

    /** {@code flag value}: {@code problem}, exit code 1; {@code cause} (may be null) is shown by {@code --debug}. */
    public static UserError runtime(String flag, Object value, String problem, Throwable cause) {
        return new UserError(flag + " " + value + ": " + problem, RUNTIME, cause);
    }

    /** A runtime failure that is not about one flag (e.g. the default data set is missing), exit code 1. */
    public static UserError runtime(String problem, Throwable cause) {
        return new UserError(problem, RUNTIME, cause);
    }

    public int exitCode() {
        return exitCode;
    }

    /** Fails with a usage error unless {@code value >= min}. */
    public static int atLeast(String flag, int value, int min) {
        if (value < min) {
            throw usage(flag, value, "must be at least " + min);
        }
        return value;
    }

    /** Fails with a usage error unless {@code value} is a finite number above zero. */
    public static float positive(String flag, float value) {
        if (!(value > 0) || Float.isInfinite(value)) {
            throw usage(flag, value, "must be a number above 0");
        }
        return value;
    }
}
