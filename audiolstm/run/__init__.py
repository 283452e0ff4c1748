"""A training run on the host: the loop around the device program, its work directory, outputs,
checkpoints, signals, TensorBoard, plots, snapshots."""
