package io.jdl.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Fashion-MNIST (Zalando): 60,000 training and 10,000 test greyscale images of 28x28 pixels in 10 classes.
 *
 * <p>The four IDX files ({@value #TRAIN_IMAGES}, {@value #TRAIN_LABELS}, {@value #TEST_IMAGES},
 * {@value #TEST_LABELS}, each plain or with {@code .gz}) are looked up, first hit wins:
 * <ol>
 *   <li>the directory given to {@link #load(Path)} (a sample's {@code --data DIR}); when one is given, only
 *       it is searched;</li>
 *   <li>the directory in the environment variable {@value #ENV};</li>
 *   <li>{@value #DEBIAN_DIR}, where Debian's {@code dataset-fashion-mnist} package puts them
 *       ({@code dpkg -L dataset-fashion-mnist});</li>
 *   <li>{@code data/fashion-mnist} under the working directory.</li>
 * </ol>
 * When none holds all four files, a {@link DataNotFoundException} lists every place searched and says how
 * to get them. Corrupt files and an images/labels count mismatch are {@link DataFormatException}s.
 *
 * <p>The returned data sets keep pixels as bytes (about 55 MB for both splits) and belong to the caller.
 */
public final class FashionMnist {
    public static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
    public static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
    public static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
    public static final String TEST_LABELS = "t10k-labels-idx1-ubyte";
    /** Where Debian's {@code dataset-fashion-mnist} package installs the four gzipped files. */
    public static final String DEBIAN_DIR = "/usr/share/datasets/fashion-mnist";
    /** Environment variable naming a directory with the four files. */
    public static final String ENV = "JDL_FASHION_MNIST";

    /** The ten class names, by label. */
    public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    public static final int ROWS = 28, COLS = 28;

    private final Path directory;
    private final Dataset train, test;

    private FashionMnist(Path directory, Dataset train, Dataset test) {
        this.directory = directory;
        this.train = train;
        this.test = test;
    }

    /** The 60,000 training images. */
    public Dataset train() {
        return train;
    }

    /** The 10,000 test images. */
    public Dataset test() {
        return test;
    }

    /** The directory the files were read from. */
    public Path directory() {
        return directory;
    }

    /** Loads from the default places (see the class description). */
    public static FashionMnist load() throws IOException {
        return load(null);
    }

    /**
     * Loads both splits from {@code directory}, or from the default places when it is null.
     *
     * @throws DataNotFoundException when the files are not found; the message lists the places searched and
     *                               how to get the files
     * @throws DataFormatException   when a file is corrupt or images and labels disagree in count
     */
    public static FashionMnist load(Path directory) throws IOException {
        List<Path> candidates = searchPath(directory);
        for (Path dir : candidates) {
            if (find(dir, TRAIN_IMAGES) != null && find(dir, TRAIN_LABELS) != null && find(dir, TEST_IMAGES) != null
                    && find(dir, TEST_LABELS) != null) {
                Dataset train = read(find(dir, TRAIN_IMAGES), find(dir, TRAIN_LABELS));
                Dataset test = read(find(dir, TEST_IMAGES), find(dir, TEST_LABELS));
                return new FashionMnist(dir, train, test);
            }
        }
        throw new DataNotFoundException(notFoundMessage(candidates));
    }

    /** The directories searched, in order, for the given explicit directory (may be null). */
    public static List<Path> searchPath(Path directory) {
        List<Path> dirs = new ArrayList<>();
        if (directory != null) {
            dirs.add(directory);
            return dirs;
        }
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) {
            dirs.add(Path.of(env));
        }
        dirs.add(Path.of(DEBIAN_DIR));
        dirs.add(Path.of("data", "fashion-mnist").toAbsolutePath());
        return dirs;
    }

    /**
     * Reads one split from an images file and a labels file (plain or gzipped).
     *
     * @throws DataFormatException when either file is corrupt, the images are not 28x28 or the counts differ
     */
    public static Dataset read(Path imagesFile, Path labelsFile) throws IOException {
        Idx.Images images = Idx.readImages(imagesFile);
        int[] labels = Idx.readLabels(labelsFile);
        if (images.count() != labels.length) {
            throw new DataFormatException("Fashion-MNIST images and labels disagree: " + imagesFile + " holds "
                    + images.count() + " images but " + labelsFile + " holds " + labels.length + " labels");
        }
        if (images.rows() != ROWS || images.cols() != COLS) {
            throw new DataFormatException(imagesFile + ": Fashion-MNIST images are 28x28, found " + images.rows() + "x"
                    + images.cols());
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] >= CLASS_NAMES.size()) {
                throw new DataFormatException(labelsFile + ": label " + labels[i] + " of sample " + i
                        + " is outside 0..9");
            }
        }
        return new Dataset(images.pixels(), labels, 1, ROWS, COLS, CLASS_NAMES);
    }

    private static Path find(Path dir, String base) {
        for (String name : new String[] {base, base + ".gz"}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    private static String notFoundMessage(List<Path> candidates) {
        StringBuilder sb = new StringBuilder("Fashion-MNIST not found. Looked for ").append(TRAIN_IMAGES).append(", ")
                .append(TRAIN_LABELS).append(", ").append(TEST_IMAGES).append(", ").append(TEST_LABELS)
                .append(" (each plain or .gz) in:");
        for (Path dir : candidates) {
            sb.append("\n  ").append(dir);
            if (!Files.isDirectory(dir)) {
                sb.append("  (no such directory)");
            } else {
                List<String> missing = new ArrayList<>();
                for (String f : List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)) {
                    if (find(dir, f) == null) {
                        missing.add(f);
                    }
                }
                sb.append("  (missing ").append(String.join(", ", missing)).append(")");
            }
        }
        sb.append("\nTo get the files, either:")
                .append("\n  - install Debian's package, as root: apt-get install dataset-fashion-mnist   (it puts them in ")
                .append(DEBIAN_DIR).append(")")
                .append("\n  - or download the four files from https://github.com/zalandoresearch/fashion-mnist (data/fashion)")
                .append(" into a directory DIR and pass --data DIR (or set ").append(ENV).append("=DIR)");
        return sb.toString();
    }
}
