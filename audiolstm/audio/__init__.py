"""Sound in and out: decoding and writing, spectra, the dream gate, features, the vocoder,
synthesis, streaming WAV, level control. Depends on nothing else in audiolstm but files."""
