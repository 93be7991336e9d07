package io.jdl.data;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * Images in one subfolder per class ({@code root/cat/1.png}, {@code root/dog/7.jpg}), decoded with the JDK's
 * image readers (PNG, JPEG, GIF, BMP, WBMP; TIFF since JDK 9), resized to {@code size x size} (bilinear, the
 * aspect ratio not kept) and stored as a {@link Dataset} of bytes: PyTorch's {@code ImageFolder} with a
 * {@code Resize}. Classes are the subfolder names, sorted; files starting with '.' are skipped. The images are
 * grayscale (one channel) when every file is, else RGB (three; alpha is dropped).
 */
public final class ImageFolder {
    private ImageFolder() {
    }

    /**
     * Reads every image under {@code root}'s class subfolders.
     *
     * @throws DataFormatException when {@code root} has fewer than two class subfolders, a class folder is empty,
     *                             or a file is not an image the JDK can decode (the message names the folder or file)
     * @throws IOException         when {@code root} is not a readable folder
     */
    public static Dataset read(Path root, int size) throws IOException {
        if (size < 1) {
            throw new IllegalArgumentException("image size must be at least 1, got " + size);
        }
        List<Path> classDirs = list(root).stream().filter(Files::isDirectory).toList();
        if (classDirs.size() < 2) {
            throw new DataFormatException(root + ": expected one subfolder per class (at least two), found "
                    + classDirs.size());
        }
        List<String> classNames = new ArrayList<>();
        List<BufferedImage> images = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        boolean allGray = true;
        for (Path dir : classDirs) {
            List<Path> files = list(dir).stream().filter(Files::isRegularFile).toList();
            if (files.isEmpty()) {
                throw new DataFormatException(dir + ": empty class folder (no image files)");
            }
            for (Path f : files) {
                BufferedImage img;
                try {
                    img = ImageIO.read(f.toFile());
                } catch (IOException | RuntimeException e) {
                    throw new DataFormatException(f + ": unreadable image: " + e.getMessage(), e);
                }
                if (img == null) {
                    throw new DataFormatException(f + ": not an image the JDK can decode (PNG, JPEG, GIF, BMP, TIFF)");
                }
                allGray &= img.getType() == BufferedImage.TYPE_BYTE_GRAY;
                images.add(resize(img, size));
                labels.add(classNames.size());
            }
            classNames.add(dir.getFileName().toString());
        }
        int channels = allGray ? 1 : 3, plane = size * size;
        byte[] pixels = new byte[images.size() * channels * plane];
        for (int i = 0; i < images.size(); i++) {
            BufferedImage img = images.get(i);
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    int rgb = img.getRGB(x, y), base = i * channels * plane + y * size + x;
                    if (channels == 1) {
                        pixels[base] = (byte) (rgb & 0xff); // gray: r = g = b
                    } else {
                        pixels[base] = (byte) (rgb >> 16);
                        pixels[base + plane] = (byte) (rgb >> 8);
                        pixels[base + 2 * plane] = (byte) rgb;
                    }
                }
            }
        }
        return new Dataset(pixels, labels.stream().mapToInt(Integer::intValue).toArray(), channels, size, size, classNames);
    }

    private static BufferedImage resize(BufferedImage img, int size) {
        BufferedImage out = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(img, 0, 0, size, size, null);
        } finally {
            g.dispose();
        }
        return out;
    }

    /** The entries of {@code dir} that do not start with '.', sorted by name. */
    private static List<Path> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new java.nio.file.NotDirectoryException(dir + " (expected a folder of class subfolders)");
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
        }
    }
}
