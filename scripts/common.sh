# Shared by the scripts in this folder: source it, don't run it.
# Finds a JDK >= 22 and NVIDIA's cuBLAS/cuDNN libraries; every failure says what was looked at.

JDL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JDL_MIN_JDK=22

# Feature version of the JDK at $1 (a JAVA_HOME), or nothing if it is not a JDK.
jdk_version() {
  [[ -x "$1/bin/javac" && -x "$1/bin/java" ]] || return 0
  "$1/bin/java" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}

# Exports JAVA_HOME as a JDK >= 22: $JAVA_HOME if it qualifies, else the newest under /usr/lib/jvm.
find_jdk() {
  local candidates=() seen=() best="" best_v=0 c v
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME")
  for c in /usr/lib/jvm/* /opt/java/* /usr/local/jdk*; do [[ -d "$c" ]] && candidates+=("$c"); done
  if command -v javac >/dev/null; then candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"); fi
  for c in "${candidates[@]}"; do
    v="$(jdk_version "$c")"
    seen+=("$c (${v:-not a JDK})")
    if [[ -n "$v" && "$v" -ge $JDL_MIN_JDK && "$v" -gt $best_v ]]; then best="$c"; best_v="$v"; fi
    # An explicit JAVA_HOME that qualifies wins over newer ones found by scanning.
    if [[ -n "$best" && "$c" == "${JAVA_HOME:-}" ]]; then break; fi
  done
  if [[ -z "$best" ]]; then
    echo "error: jdl needs a JDK >= $JDL_MIN_JDK (java.lang.foreign); none found. Looked at:" >&2
    printf '  %s\n' "${seen[@]:-nothing (JAVA_HOME unset, /usr/lib/jvm empty, no javac on PATH)}" >&2
    echo "Install a JDK 25 (e.g. Temurin) and set JAVA_HOME to it." >&2
    return 1
  fi
  export JAVA_HOME="$best" PATH="$best/bin:$PATH"
}

# Unpacked NVIDIA wheels (the same layout as Python's site-packages/nvidia), outside the repo.
JDL_NVIDIA_HOME="${JDL_NVIDIA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/jdl/nvidia}"

# Makes cuBLAS and cuDNN available in $JDL_NVIDIA_HOME from NVIDIA's pip packages, once, and puts
# that folder first in the Java loader's search (JDL_LIBRARY_PATH, see NativeLibraries).
# Prints a warning (not an error) when pip can't get them: the CPU backend needs none of it.
ensure_nvidia_libs() {
  local wheels="$JDL_NVIDIA_HOME/../wheels" w
  export JDL_LIBRARY_PATH="$JDL_NVIDIA_HOME/cu13/lib:$JDL_NVIDIA_HOME/cudnn/lib${JDL_LIBRARY_PATH:+:$JDL_LIBRARY_PATH}"
  if [[ -e "$JDL_NVIDIA_HOME/cu13/lib/libcublas.so.13" && -e "$JDL_NVIDIA_HOME/cudnn/lib/libcudnn.so.9" ]]; then
    return 0
  fi
  # A failed fetch is remembered for a day, so that every call does not wait for an index that is not there.
  local failed="$JDL_NVIDIA_HOME.unavailable"
  if [[ -n "$(find "$failed" -mmin -1440 2>/dev/null)" ]]; then
    echo "note: cuBLAS/cuDNN are not installed (pip could not fetch them: see $failed; delete it to retry); the CPU backend needs neither." >&2
    return 0
  fi
  local pip=""
  for c in pip3 pip "python3 -m pip"; do if $c --version >/dev/null 2>&1; then pip="$c"; break; fi; done
  if [[ -z "$pip" ]]; then
    echo "warning: no pip found, so cuBLAS/cuDNN were not fetched; native-library tests will say they are skipped." >&2
    return 0
  fi
  echo "Fetching cuBLAS and cuDNN (NVIDIA pip packages nvidia-cublas, nvidia-cudnn-cu13) into $JDL_NVIDIA_HOME ..."
  mkdir -p "$wheels"
  # Whatever index pip is configured with, asked once with a short timeout: an unreachable one fails in seconds.
  if ! $pip download --quiet --no-deps --retries 0 --timeout 15 --dest "$wheels" nvidia-cublas nvidia-cudnn-cu13 \
      >"$failed" 2>&1; then
    echo "warning: pip could not download nvidia-cublas / nvidia-cudnn-cu13 (details in $failed); native-library tests will say they are skipped." >&2
    rm -rf "$wheels"
    return 0
  fi
  rm -f "$failed"
  local tmp; tmp="$(mktemp -d "$JDL_NVIDIA_HOME.tmp.XXXX")"
  for w in "$wheels"/nvidia_cublas-*.whl "$wheels"/nvidia_cudnn_cu13-*.whl; do
    if command -v unzip >/dev/null; then unzip -q -o "$w" 'nvidia/*' -d "$tmp"; else python3 -m zipfile -e "$w" "$tmp"; fi
  done
  rm -rf "$JDL_NVIDIA_HOME" && mv "$tmp/nvidia" "$JDL_NVIDIA_HOME" && rm -rf "$tmp" "$wheels"
}

# Installs Debian's dataset-fashion-mnist package (the four IDX files) when it is missing and we can
# (root with apt); otherwise says how to get the files. The samples also take --data DIR.
# oneDNN (Debian libdnnl2), the native library of the CPU backend's matrix products and convolutions.
# Installed when missing and we are root with apt; otherwise one note: jdl then runs its pure-Java kernels
# (slower, same results within float32 rounding). JDL_CPU_NATIVE=off skips this and the library.
ensure_cpu_native_libs() {
  [[ "${JDL_CPU_NATIVE:-}" == off ]] && return 0
  # oneDNN's OpenMP threads sleep at once when idle instead of spinning: spinning threads take the cores from
  # the Java threads of the next operation (measured: twice the CPU time per cnn step on 2 cores).
  export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
  local soname=libdnnl.so.2
  if [[ -n "${JDL_CPU_LIBRARY_PATH:-}" ]] || /sbin/ldconfig -p 2>/dev/null | grep -q "$soname"; then return 0; fi
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing oneDNN for the CPU backend (Debian package libdnnl2) ..."
    { apt-get install -y -qq libdnnl2 || { apt-get update -qq && apt-get install -y -qq libdnnl2; }; } >/dev/null \
      || echo "warning: apt-get could not install libdnnl2; the CPU backend runs its pure-Java kernels (slower)." >&2
  else
    echo "note: oneDNN ($soname) is not installed, so the CPU backend runs its pure-Java kernels (slower):" \
      "run 'sudo apt-get install libdnnl2' or set JDL_CPU_LIBRARY_PATH to the folder holding $soname." >&2
  fi
}

ensure_fashion_mnist() {
  local dir=/usr/share/datasets/fashion-mnist
  [[ -n "${JDL_FASHION_MNIST:-}" || -f "$dir/train-images-idx3-ubyte.gz" ]] && return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing Fashion-MNIST (Debian package dataset-fashion-mnist) ..."
    { apt-get install -y -qq dataset-fashion-mnist || { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; }; } >/dev/null \
      || echo "warning: apt-get could not install dataset-fashion-mnist; pass --data DIR with the four IDX files." >&2
  else
    echo "note: Fashion-MNIST is not installed: run 'sudo apt-get install dataset-fashion-mnist', set JDL_FASHION_MNIST," \
      "or pass --data DIR holding the four IDX files." >&2
  fi
}
