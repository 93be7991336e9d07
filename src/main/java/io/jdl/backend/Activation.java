package io.jdl.backend;

/** Pointwise activations; {@code LEAKY_RELU} takes its negative slope as a parameter. */
public enum Activation { RELU, LEAKY_RELU, SIGMOID, TANH, GELU }
