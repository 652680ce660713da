"""`garagecam bench`: per-stage timings, runtimes side by side, memory and capacity.

Everything heavy (torch, executorch, onnxruntime, matplotlib, psutil, tqdm) is imported
inside the functions that need it, so importing this package stays cheap.
"""
