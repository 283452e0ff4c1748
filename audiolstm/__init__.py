"""audiolstm: train LSTMs on a recording and dream new audio from it (Pfalz 2018, in JAX)."""
