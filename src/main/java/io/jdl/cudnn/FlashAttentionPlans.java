package io.jdl.cudnn;

import io.jdl.cuda.NativeResource;
import io.jdl.cudnn.FlashAttention.Build;
import io.jdl.cudnn.FlashAttention.Config;
import io.jdl.cudnn.FlashAttention.Direction;
import java.util.HashMap;
import java.util.Map;

/**
 * {@link FlashAttention} plans kept per configuration (data type, shape, mask, scale) and direction, so a
 * training step builds each graph once. An {@link Build.Unsupported} answer is kept too: cuDNN's heuristics are
 * not asked again for a configuration they declined, and the caller falls back every time at no cost.
 *
 * <p>Owned by one backend and used from one thread at a time, like the cuDNN handle; {@link #close()} destroys
 * every plan.
 */
public final class FlashAttentionPlans extends NativeResource {
    private record Key(Config config, Direction direction) {}

    private final Cudnn cudnn;
    private final Map<Key, Build> builds = new HashMap<>();

    public FlashAttentionPlans(Cudnn cudnn) {
        this.cudnn = cudnn;
    }

    /** The plan for {@code config} and {@code direction}, built on first use, or why cuDNN declines it. */
    public Build get(Config config, Direction direction) {
        checkOpen();
        return builds.computeIfAbsent(new Key(config, direction), k -> FlashAttention.plan(cudnn, config, direction));
    }

    /** Plans built or declined so far. */
    public int size() {
        return builds.size();
    }

    @Override
    protected void release() {
        RuntimeException first = null;
        for (Build b : builds.values()) {
            if (b instanceof Build.Ready ready) {
                try {
                    ready.plan().close();
                } catch (RuntimeException e) {
                    first = first == null ? e : first;
                }
            }
        }
        builds.clear();
        if (first != null) {
            throw first;
        }
    }

    @Override
    protected String describe() {
        return "cuDNN flash-attention plans";
    }
}
