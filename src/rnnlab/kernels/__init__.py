"""Numeric cores: activations, recurrent cells' whole-sequence passes, convolution, embedding and
optimizer updates, as plain functions of arrays.  Nothing here knows about layers or models."""
