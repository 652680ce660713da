# Per-checkout virtual environments over a shared, cached dependencies venv.
# Sourced by scripts/setup.sh (and by tests/core/test_setup_venv.py, which runs it on two
# clones). Bash.
#
# The cached venv ($GARAGECAM_CACHE/venvs/pyX.Y-HASH) holds the dependencies only and is
# shared by every clone and worktree. Each checkout gets a thin venv of its own at .venv
# (`python -m venv --without-pip`, seconds) whose site-packages has:
#   _garagecam_deps.pth   `import site; site.addsitedir(<cached site-packages>)`: the
#                         dependencies, after this venv's own site-packages on sys.path (and
#                         their .pth files processed, e.g. pytest-cov's)
#   the project, editable: this checkout's code, found before anything in the cache
#   garagecam-runtime      installed by setup.sh into this venv too
# The cached venv's commands (pytest, ruff, mypy, mkdocs, ...) get copies in .venv/bin that
# run this venv's python, so `.venv/bin/pytest` imports this checkout's code.
# Before, .venv was a link to the cached venv and the editable install went into it: the
# clone that ran set-up last was the code every clone imported.

# venv_site PYTHON: the site-packages directory of the venv PYTHON belongs to
venv_site() {
    "$1" -c 'import sysconfig; print(sysconfig.get_path("purelib"))'
}

# relink_commands VENV DEPS: DEPS' console scripts re-pointed at VENV's python; binaries linked
relink_commands() {
    local venv=$1 deps=$2 path name
    for path in "$deps"/bin/*; do
        name=${path##*/}
        case $name in
            python* | activate* | Activate.ps1) continue ;;
        esac
        rm -f "$venv/bin/$name"
        if head -c 2 "$path" | grep -q '^#!' && head -n 3 "$path" | grep -qF "$deps/bin/python"; then
            # pip's script header names the interpreter in its first lines
            sed "1,3s#$deps/bin/python[0-9.]*#$venv/bin/python#" "$path" > "$venv/bin/$name"
            chmod +x "$venv/bin/$name"
        else
            ln -s "$path" "$venv/bin/$name"
        fi
    done
}

# checkout_venv VENV DEPS ROOT: the thin venv VENV (absolute path) over the dependencies venv
# DEPS, with the project at ROOT installed editable into it; fails if the venv then imports
# garagecam_core from anywhere but ROOT.
checkout_venv() {
    local venv=$1 deps=$2 root=$3 base site found
    base=$(readlink -f "$deps/bin/python")
    if [ -L "$venv" ]; then
        rm -f "$venv"  # an older set-up linked the shared venv here: never delete through it
    fi
    if [ ! -x "$venv/bin/python" ] || [ "$(readlink -f "$venv/bin/python")" != "$base" ]; then
        rm -rf "$venv"
        "$base" -m venv --without-pip "$venv"
    fi
    site=$(venv_site "$venv/bin/python")
    printf 'import site; site.addsitedir(%s)\n' "'$(venv_site "$deps/bin/python")'" \
        > "$site/_garagecam_deps.pth"
    relink_commands "$venv" "$deps"
    "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$root"
    found=$(cd / && "$venv/bin/python" -c 'import garagecam_core; print(garagecam_core.__file__)')
    case $found in
        "$root"/*) ;;
        *)
            echo "error: $venv imports garagecam_core from $found, not from $root" >&2
            return 1
            ;;
    esac
}

# deps_without DEPS NAME...: uninstall NAMEs (the project, its binding) from a dependencies venv
# that an older set-up installed them into, so that no checkout can fall back on them
deps_without() {
    local deps=$1 name
    shift
    for name in "$@"; do
        if "$deps/bin/python" -m pip show -q "$name" >/dev/null 2>&1; then
            "$deps/bin/python" -m pip uninstall -q -y "$name"
        fi
    done
}
