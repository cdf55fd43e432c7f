"""`leakwarden scan image|archive|pypi|npm`: built artifacts, read without extracting them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from leakwarden.cli.options import build_settings, emit_report, report_options, rule_options

F = TypeVar("F", bound=Callable[..., Any])


# Deeper nesting than this is never a real artifact; each level costs a few stack frames.
MAX_ARCHIVE_DEPTH = 64


def _ratio(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    import math

    if value is not None and not (math.isfinite(value) and value >= 1):
        raise click.BadParameter(f"{value} is not a ratio of at least 1 (e.g. 200)")
    return value


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from leakwarden.config import parse_size
    from leakwarden.errors import ConfigError

    if value is None:
        return None
    try:
        size = parse_size(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    if size < 1:
        raise click.BadParameter(f"{value!r} is not a size of at least 1 byte")
    return value


def limit_options(func: F) -> F:
    decorators = [
        click.option("--max-file-size", default=None, metavar="SIZE", callback=_size, help="Skip members larger than this (default 25MB)."),
        click.option("--max-archive-depth", type=click.IntRange(0, MAX_ARCHIVE_DEPTH), default=None, help="How deep to open nested archives (default 8)."),
        click.option("--max-archive-members", type=click.IntRange(1), default=None, help="Stop after this many members per archive or layer (default 200000)."),
        click.option("--max-archive-bytes", default=None, metavar="SIZE", callback=_size, help="Stop an archive or layer after this many decompressed bytes (default 4GiB)."),
        click.option("--max-ratio", type=float, default=None, callback=_ratio, help="Refuse streams that decompress more than this many times their size (default 200)."),
    ]
    for d in reversed(decorators):
        func = d(func)
    return func


def _settings_and_limits(start: Path | None, rule_opts: dict[str, Any], max_file_size: str | None, max_archive_depth: int | None,
                         max_archive_members: int | None, max_archive_bytes: str | None, max_ratio: float | None) -> tuple[Any, Any]:
    from leakwarden.artifacts import archive_limits
    from leakwarden.config import parse_size

    settings = build_settings(start, **rule_opts)
    settings = settings.merged(max_file_size=parse_size(max_file_size) if max_file_size else None)
    limits = archive_limits(
        settings,
        max_depth=max_archive_depth,
        max_members=max_archive_members,
        max_total_bytes=parse_size(max_archive_bytes) if max_archive_bytes else None,
        max_ratio=max_ratio,
    )
    return settings, limits


@click.command("archive")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@limit_options
@report_options
@rule_options
def archive(files: tuple[Path, ...], fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool,
            max_file_size: str | None, max_archive_depth: int | None, max_archive_members: int | None, max_archive_bytes: str | None,
            max_ratio: float | None, **rule_opts: Any) -> None:
    """Scan archives (zip, jar/war/ear, whl, egg, nupkg, apk, tar, tar.gz/bz2/xz/zst, gem, npm .tgz), nested ones too.

    Nothing is extracted to disk. Locations read `release.zip!/lib/app.jar!/config.properties:12`.
    """
    from leakwarden import api
    from leakwarden.artifacts import scan_archives

    settings, limits = _settings_and_limits(files[0], rule_opts, max_file_size, max_archive_depth, max_archive_members, max_archive_bytes, max_ratio)
    detector = api.build_detector(settings)
    result = scan_archives(files, settings, detector, limits)
    emit_report(result, detector.ruleset, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source="archive")


@click.command("image")
@click.argument("target")
@click.option("--platform", default=None, metavar="OS/ARCH[/VARIANT]", help="Only this platform of a multi-arch image (default: all).")
@click.option("--insecure", is_flag=True, help="Allow plain HTTP to a registry that is not on localhost.")
@click.option("--no-cache", is_flag=True, help="Rescan layers already known to be clean for these rules.")
@click.option("--username", default=None, envvar="LEAKWARDEN_REGISTRY_USER", help="Registry user (default: from ~/.docker/config.json).")
@click.option("--password-stdin", is_flag=True, help="Read the registry password or token from standard input.")
@limit_options
@report_options
@rule_options
def image(target: str, platform: str | None, insecure: bool, no_cache: bool, username: str | None, password_stdin: bool,
          fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool,
          max_file_size: str | None, max_archive_depth: int | None, max_archive_members: int | None, max_archive_bytes: str | None,
          max_ratio: float | None, **rule_opts: Any) -> None:
    """Scan a container image: `docker save` tarball, OCI layout folder, or registry reference.

    Every layer is scanned in order; findings name the layer, the instruction that created it and
    the path in the image, and say when a later layer deleted the file (it is still in the image).
    The image config (ENV, labels, history) is scanned too: build arguments leak there.
    """
    import sys

    from leakwarden import api
    from leakwarden.artifacts import scan_image

    start = Path(target) if os.path.exists(target) else None
    settings, limits = _settings_and_limits(start, rule_opts, max_file_size, max_archive_depth, max_archive_members, max_archive_bytes, max_ratio)
    detector = api.build_detector(settings)
    registry_options: dict[str, Any] = {"insecure": insecure}
    if username:
        registry_options["username"] = username
    if password_stdin:
        registry_options["password"] = sys.stdin.readline().rstrip("\r\n")
    result = scan_image(target, settings, detector, platform=platform, limits=limits, use_cache=not no_cache, registry_options=registry_options)
    emit_report(result, detector.ruleset, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source="image")


def _package_command(ecosystem: str, env_var: str, option: str, spec_help: str) -> click.Command:
    @click.command(ecosystem, help=spec_help)
    @click.argument("spec")
    @click.option(option, "index_url", default=None, envvar=env_var, metavar="URL", help=f"Package index to use (env {env_var}).")
    @click.option("--all-files", is_flag=True, help="Scan every released file (all wheels), not just the sdist and one wheel.")
    @limit_options
    @report_options
    @rule_options
    def command(spec: str, index_url: str | None, all_files: bool, fmt: str, output: Path | None, show_secrets: bool, exit_zero: bool, quiet: bool,
                max_file_size: str | None, max_archive_depth: int | None, max_archive_members: int | None, max_archive_bytes: str | None,
                max_ratio: float | None, **rule_opts: Any) -> None:
        from leakwarden import api
        from leakwarden.artifacts import scan_package

        settings, limits = _settings_and_limits(None, rule_opts, max_file_size, max_archive_depth, max_archive_members, max_archive_bytes, max_ratio)
        detector = api.build_detector(settings)
        result = scan_package(ecosystem, spec, settings, detector, index_url=index_url, all_files=all_files, limits=limits)
        emit_report(result, detector.ruleset, fmt=fmt, output=output, show_secrets=show_secrets, exit_zero=exit_zero, quiet=quiet, source=ecosystem)

    return command


pypi = _package_command(
    "pypi", "LEAKWARDEN_PYPI_URL", "--index-url",
    "Scan a package published on PyPI: PACKAGE or PACKAGE==VERSION (its sdist and a wheel).",
)
npm = _package_command(
    "npm", "LEAKWARDEN_NPM_REGISTRY", "--registry",
    "Scan a package published on npm: PACKAGE, @scope/PACKAGE, or PACKAGE@VERSION (its tarball).",
)
