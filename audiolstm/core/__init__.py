"""The device program: models, output distributions, strided slicing, the dataset, sampling,
sharding, the jitted train and dream steps, wander blending."""
