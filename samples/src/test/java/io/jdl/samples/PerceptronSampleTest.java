package io.jdl.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The perceptron sample end to end, and its learning-rate lesson checked against the quadratic's known optimum. */
class PerceptronSampleTest {
    @TempDir
    Path tmp;

    @Test
    void runsEndToEndWithItsPicturesAndOneConclusionPerRun() throws Exception {
        SamplesEndToEndTest.Result r = SamplesEndToEndTest.launch("perceptron", "--out", tmp.toString(), "--overwrite");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        for (String f : new String[] {"decision-boundary.png", "learning-rates.png", "batch-sizes.png", "metrics.json"}) {
            assertTrue(Files.size(tmp.resolve(f)) > 200, f);
        }
        assertTrue(r.out().matches("(?s).*too small +eta = \\S+ +J 1\\.0000 -> \\S+ after 40 epochs: too slow.*"), r.out());
        assertTrue(r.out().matches("(?s).*good +eta = \\S+ +J 1\\.0000 -> \\S+ after 40 epochs: converged.*"), r.out());
        assertTrue(r.out().matches("(?s).*too large +eta = \\S+ +J 1\\.0000 -> \\S+ after 40 epochs: diverged.*"), r.out());
        Matcher gap = Pattern.compile("max difference from by hand (\\S+)\\)").matcher(r.out());
        assertTrue(gap.find(), r.out());
        assertTrue(Double.parseDouble(gap.group(1)) < 1e-5, "hand-written and autograd descent agree: " + gap.group(1));
        String metrics = Files.readString(tmp.resolve("metrics.json"));
        assertTrue(metrics.contains("\"accuracy\": 0.9"), metrics); // two clouds 2.9 sd apart: about 92% separable
    }

    @Test
    void theGoodRateConvergesAndTheLargeOneDoesNot() {
        PerceptronSample.Points data = PerceptronSample.points(new Random(3));
        double best = PerceptronSample.loss(data, PerceptronSample.leastSquares(data));
        double lambda = PerceptronSample.largestCurvature(data);
        PerceptronSample.Run good = PerceptronSample.train(data, "good", (float) (1 / lambda), data.size(), 40, 3);
        PerceptronSample.Run large = PerceptronSample.train(data, "large", (float) (2.2 / lambda), data.size(), 40, 3);
        PerceptronSample.Run small = PerceptronSample.train(data, "small", (float) (0.02 / lambda), data.size(), 40, 3);
        assertEquals(best, good.last(), best * 1e-3);
        assertTrue(large.last() > 1e3 * large.loss()[0], "the too-large rate blows up: " + large.last());
        assertTrue(large.loss()[2] > large.loss()[1] || large.loss()[3] > large.loss()[2], "and oscillates upwards early");
        assertTrue(small.last() > 1.2 * best && small.last() < small.loss()[0], "the too-small rate is still on its way");
        // Just under the critical rate 2/λmax the descent still converges, however slowly along the steep direction.
        PerceptronSample.Run edge = PerceptronSample.train(data, "edge", (float) (1.9 / lambda), data.size(), 400, 3);
        assertEquals(best, edge.last(), best * 1e-3);
    }

    @Test
    void leastSquaresIsTheMinimumOfTheLoss() {
        PerceptronSample.Points data = PerceptronSample.points(new Random(5));
        double[] w = PerceptronSample.leastSquares(data);
        double best = PerceptronSample.loss(data, w);
        for (int j = 0; j < 3; j++) {
            for (double d : new double[] {-1e-2, 1e-2}) {
                double[] moved = w.clone();
                moved[j] += d;
                assertTrue(PerceptronSample.loss(data, moved) > best, "moving weight " + j + " by " + d);
            }
        }
    }
}
