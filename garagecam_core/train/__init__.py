"""Training a student model on labelled snapshots (needs the `train` extra: torch, tqdm,
matplotlib). `dataset`, `metrics` and `augment` are torch-free; `student` imports torch and
`trainer` imports it inside its functions."""
