"""`garagecam studio`: label frames in the browser, train and deploy a model."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path
from typing import Any

_TOKEN_ENV = "GARAGECAM_STUDIO_TOKEN"  # noqa: S105 - a variable name, not a secret


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "studio",
        help="label snapshots in the browser (by hand or with a VLM teacher), train, deploy",
        description=(
            "Serve a labelling page for the images in DIR (a Home Assistant "
            "<config>/garagecam/dataset copy, a capture folder, a labels.csv or class-folder "
            "dataset, or any folder of images): every state of every label early with the "
            "model's probabilities, keyboard labelling, bulk accept, optional teacher "
            "suggestions, training a head on the pretrained trunk (or fine-tuning the network "
            "with PyTorch) and deploy. See docs/studio.md."
        ),
    )
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR")
    parser.add_argument(
        "--model",
        type=Path,
        help="the camera's current model, .pte or .gcam (default: the demo model)",
    )
    parser.add_argument(
        "--deploy-to",
        type=Path,
        metavar="FILE",
        help="model file (.pte or .gcam) 'use this model' replaces (default: --model, never "
        "the demo model)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default %(default)s")
    parser.add_argument("--port", type=int, default=8766, help="default %(default)s (0: any)")
    parser.add_argument(
        "--token", help=f"require 'Authorization: Bearer TOKEN' (or set {_TOKEN_ENV})"
    )
    parser.add_argument("--teacher", metavar="URL", help="OpenAI-compatible VLM server URL")
    parser.add_argument("--teacher-model", metavar="NAME", help="model name on that server")
    parser.add_argument(
        "--teacher-key-env", metavar="VAR", help="environment variable holding its API key"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import demo_model_path
    from ..errors import ConfigError
    from ..studio.state import default_deploy_target
    from ..studio.teacher import TeacherConfig
    from ..web import is_loopback

    token = args.token or os.environ.get(_TOKEN_ENV) or None
    if not is_loopback(args.host) and not token:
        raise ConfigError(
            f"--host {args.host} makes the studio reachable from the network: set --token "
            f"(or {_TOKEN_ENV})"
        )
    teacher = None
    if args.teacher or args.teacher_model:
        if not (args.teacher and args.teacher_model):
            raise ConfigError("--teacher and --teacher-model go together")
        key = None
        if args.teacher_key_env:
            key = os.environ.get(args.teacher_key_env)
            if not key:
                raise ConfigError(f"environment variable {args.teacher_key_env} is not set")
        teacher = TeacherConfig(args.teacher, args.teacher_model, key)
    deploy_to = default_deploy_target(args.model, args.deploy_to)
    model = args.model
    if model is None:
        model = deploy_to if deploy_to and deploy_to.is_file() else demo_model_path()
    return asyncio.run(
        _serve(args.dataset, model=model, deploy_to=deploy_to, teacher=teacher, token=token,
               host=args.host, port=args.port)
    )  # fmt: skip


async def _serve(
    dataset: Path,
    *,
    model: Path,
    deploy_to: Path | None,
    teacher: Any,
    token: str | None,
    host: str,
    port: int,
) -> int:
    from ..errors import ConfigError
    from ..runner.http import start_site
    from ..studio.app import create_app
    from ..studio.state import Studio

    studio = Studio(dataset, model, deploy_to=deploy_to, teacher=teacher)
    await studio.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            runner, bound = await start_site(create_app(studio, token), host, port)
        except OSError as err:
            raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
        shown = f"[{host}]" if ":" in host else host
        print(f"GarageCam studio on http://{shown}:{bound}/studio/"
              f"{' (token required)' if token else ''}", flush=True)  # fmt: skip
        await stop.wait()
        await runner.cleanup()
    finally:
        await studio.close()
    return 0
