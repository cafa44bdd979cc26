"""Numeric cores: activations and recurrent cells' whole-sequence forward/backward passes.

Nothing here knows about layers or models; these are plain functions of arrays.
"""
