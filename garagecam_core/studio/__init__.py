"""`garagecam studio`: label frames in the browser, train a student, deploy it.

- `store`: the dataset folder's frames and labels (atomic `labels.jsonl` edits);
- `predictor`: the current model's probabilities per frame (core engine, cached);
- `teacher`: an OpenAI-compatible vision endpoint as an optional pre-labeller;
- `training`: `garagecam train` as a background process, new vs current model;
- `state`: all of the above together; `app`: the aiohttp routes and the static page.
"""
