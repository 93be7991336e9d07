package io.jdl.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code baseline} end to end on small generated data of each modality: the model must beat its trivial reference. */
class BaselineSampleTest {
    @TempDir
    Path tmp;

    private SamplesEndToEndTest.Result baseline(String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "baseline";
        System.arraycopy(args, 0, all, 1, args.length);
        return SamplesEndToEndTest.launch(all);
    }

    /** The model's and the reference's metric from the last line of the run, asserting the files of a classifier or regressor. */
    private double[] learned(SamplesEndToEndTest.Result r, Path out, String metric, String... files) throws IOException {
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        Matcher m = Pattern.compile("validation " + metric + " (\\S+) \\(best, epoch \\d+\\) against (\\S+) for the .*: the model"
                + " learned something").matcher(r.out());
        assertTrue(m.find(), r.out());
        for (String f : files) {
            assertTrue(Files.size(out.resolve(f)) > 100, f);
        }
        assertTrue(Files.readString(out.resolve("metrics.json")).contains("\"beats_reference\": true"));
        return new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))};
    }

    @Test
    void tableClassificationBeatsTheMajorityClass() throws IOException {
        Random r = new Random(1);
        StringBuilder csv = new StringBuilder("a,b,noise,kind\n");
        for (int i = 0; i < 240; i++) {
            double a = r.nextGaussian(), b = r.nextGaussian();
            // 2/3 of rows are "low": the majority class scores about 0.67
            csv.append(String.format("%.3f,%.3f,%.3f,%s%n", a, b, r.nextGaussian(), a + b > 0.6 ? "high" : "low"));
        }
        Path file = Files.writeString(tmp.resolve("rows.csv"), csv);
        Path out = tmp.resolve("out");
        double[] v = learned(baseline("--data", file.toString(), "--target", "kind", "--out", out.toString()), out, "accuracy",
                "loss.png", "accuracy.png", "confusion.png", "model.safetensors");
        assertTrue(v[0] >= 0.85 && v[0] > v[1] + 0.15, "accuracy " + v[0] + " against majority " + v[1]);
    }

    @Test
    void tableRegressionBeatsTheMeanPredictorInTheTargetsUnits() throws IOException {
        Random r = new Random(2);
        StringBuilder tsv = new StringBuilder("x\ty\tprice\n");
        for (int i = 0; i < 240; i++) {
            double x = r.nextGaussian(), y = r.nextGaussian();
            tsv.append(String.format("%.3f\t%.3f\t%.3f%n", x, y, 100 + 20 * x - 10 * y + r.nextGaussian()));
        }
        Path file = Files.writeString(tmp.resolve("prices.tsv"), tsv);
        Path out = tmp.resolve("out");
        double[] v = learned(baseline("--data", file.toString(), "--out", out.toString()), out, "rmse", "loss.png", "rmse.png");
        // the mean predictor's RMSE is the target's spread, about sqrt(20² + 10²) = 22; noise alone is 1
        assertTrue(v[1] > 15 && v[0] < 5, "rmse " + v[0] + " against the mean predictor's " + v[1]);
        assertTrue(Files.notExists(out.resolve("confusion.png")));
    }

    @Test
    void imageFolderBeatsTheMajorityClass() throws IOException {
        Path root = imageFolder(tmp.resolve("images"), 36);
        Path out = tmp.resolve("out");
        double[] v = learned(baseline("--data", root.toString(), "--image-size", "16", "--epochs", "30", "--out", out.toString()),
                out, "accuracy", "confusion.png", "model.safetensors");
        assertTrue(v[0] >= 0.9 && v[0] > v[1] + 0.15, "accuracy " + v[0] + " against majority " + v[1]);
    }

    @Test
    void textBeatsTheUnigramModel() throws IOException {
        Random r = new Random(3);
        String[] words = {"the cat sat. ", "a dog ran. ", "the cat ran. ", "a dog sat. "};
        StringBuilder text = new StringBuilder();
        while (text.length() < 6000) {
            text.append(words[r.nextInt(words.length)]);
        }
        Path file = Files.writeString(tmp.resolve("notes.txt"), text);
        Path out = tmp.resolve("out");
        SamplesEndToEndTest.Result res = baseline("--data", file.toString(), "--steps", "60", "--out", out.toString());
        assertEquals(0, res.code(), res.err());
        Matcher m = Pattern.compile("validation loss (\\S+) nats/char against (\\S+) for the unigram model: the model learned")
                .matcher(res.out());
        assertTrue(m.find(), res.out());
        assertTrue(Double.parseDouble(m.group(1)) < Double.parseDouble(m.group(2)) - 0.3, m.group());
        assertTrue(Files.exists(out.resolve("charlm").resolve("metrics.json")));
    }

    @Test
    void badDataGetsOneLineNamingTheFileAndLine() throws IOException {
        Path ragged = Files.writeString(tmp.resolve("ragged.csv"), "a,b,y\n1,2,0\n3,4\n");
        assertError(baseline("--data", ragged.toString()), ragged + ":3: 2 fields, but the header has 3 columns");
        Path word = Files.writeString(tmp.resolve("word.csv"), "a,b,y\n1,2,0\n3,four,1\n");
        assertError(baseline("--data", word.toString()), word + ":3: column 'b': 'four' is not a number");
        Path noTarget = Files.writeString(tmp.resolve("t.csv"), "a,b,y\n1,2,0\n");
        assertError(baseline("--data", noTarget.toString(), "--target", "z"), "no column 'z' (columns: a, b, y)");

        Path root = imageFolder(tmp.resolve("images"), 4);
        Files.createDirectories(root.resolve("empty"));
        assertError(baseline("--data", root.toString()), root.resolve("empty") + ": empty class folder");
        Files.delete(root.resolve("empty"));
        Path broken = Files.writeString(root.resolve("bright").resolve("broken.png"), "not a png");
        assertError(baseline("--data", root.toString()), broken + ": not an image the JDK can decode");
        assertError(baseline("--data", tmp.resolve("missing.csv").toString()), "does not exist");
    }

    private static void assertError(SamplesEndToEndTest.Result r, String expected) {
        assertEquals(1, r.code(), r.out());
        assertTrue(r.err().startsWith("error: ") && r.err().contains(expected) && r.err().strip().lines().count() == 1, r.err());
    }

    /** Two classes of noisy 20x20 gray PNGs: "bright" ones with a light square in the top-left, "dark" ones without; 3 dark per 2 bright. */
    static Path imageFolder(Path root, int perClass) throws IOException {
        Random r = new Random(4);
        for (String cls : new String[] {"bright", "dark"}) {
            Path dir = Files.createDirectories(root.resolve(cls));
            int count = cls.equals("dark") ? perClass * 3 / 2 : perClass;
            for (int i = 0; i < count; i++) {
                BufferedImage img = new BufferedImage(20, 20, BufferedImage.TYPE_BYTE_GRAY);
                for (int y = 0; y < 20; y++) {
                    for (int x = 0; x < 20; x++) {
                        int v = r.nextInt(80) + (cls.equals("bright") && x < 10 && y < 10 ? 150 : 0);
                        img.getRaster().setSample(x, y, 0, v);
                    }
                }
                ImageIO.write(img, "png", dir.resolve(i + ".png").toFile());
            }
        }
        return root;
    }
}
