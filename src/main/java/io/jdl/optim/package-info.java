/**
 * Optimizers with PyTorch's update rules ({@link io.jdl.optim.Sgd}, {@link io.jdl.optim.Adam} and
 * AdamW) and learning-rate schedules. Updates run on the parameters' device in place; create an
 * optimizer after moving the model, and close it to free its state.
 */
package io.jdl.optim;
