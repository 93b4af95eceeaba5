#!/usr/bin/env bash
# The Debian package (packaging/, docs/deployment.md "On Debian, with systemd"), built and taken
# apart without installing it:
#   1. cpack makes exactly one revalidator_<version>_<arch>.deb from this build;
#   2. dpkg-deb -c lists both binaries, the schema, the example configuration files and the units;
#   3. dpkg-deb -I: the example files are conffiles, the maintainer scripts are there, and Depends
#      names adduser and the package of every shared library either binary needs (readelf -d,
#      dpkg -S), and no -dev package;
#   4. systemd-analyze verify accepts both units, as instances, from a copy whose /usr/bin and
#      /etc/revalidator point into the extracted package: verify checks that ExecStart's binary
#      exists, and the package is not installed; and again with each example drop-in the package
#      ships for the unit (usr/share/doc/revalidator/examples/*.conf);
#   5. the extracted binaries print their --version, and accept the shipped example files with
#      --check-config run as each unit's ExecStart= and Environment= run them (the instance the
#      file's name, the credential a file in a stand-in $CREDENTIALS_DIRECTORY).
# Usage: check_deb.sh BUILD_DIR VERSION
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR VERSION" >&2
  exit 2
fi
build=$1 version=$2

fail() {
  echo "check_deb: FAIL: $*" >&2
  exit 1
}
for tool in cpack dpkg-deb dpkg-shlibdeps readelf; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps installs it)"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. The package, built in the temporary folder (cpack's work files too).
cpack --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
  fail "cpack failed: $(cat "$tmp/cpack.log")"
debs=("$tmp"/out/revalidator_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one revalidator_*.deb, got: ${debs[*]}"
deb=${debs[0]}
case $(basename "$deb") in
  "revalidator_${version}_$(dpkg --print-architecture).deb") ;;
  *) fail "$(basename "$deb") is not revalidator_${version}_<arch>.deb" ;;
esac

# 2. What it holds.
dpkg-deb -c "$deb" | awk '{ print $NF }' >"$tmp/contents"
for path in ./usr/bin/revalidator-ingress ./usr/bin/revalidator-worker \
    ./usr/share/revalidator/articles.sql ./etc/revalidator/articles.toml ./etc/revalidator/site.toml \
    ./lib/systemd/system/revalidator-ingress@.service ./lib/systemd/system/revalidator-worker@.service \
    ./usr/share/doc/revalidator/deployment.md ./usr/share/doc/revalidator/examples/ingress-secrets.conf \
    ./usr/share/doc/revalidator/examples/worker-secrets.conf; do
  grep -qxF "$path" "$tmp/contents" || fail "dpkg-deb -c does not list $path: $(cat "$tmp/contents")"
done

# 3. Its control files.
dpkg-deb -I "$deb" >"$tmp/info"
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
for f in postinst prerm postrm; do
  [ -x "$tmp/control/$f" ] || fail "no executable $f in the package: $(cat "$tmp/info")"
  sh -n "$tmp/control/$f" || fail "$f is not a valid sh script"
done
for conffile in /etc/revalidator/articles.toml /etc/revalidator/site.toml; do
  grep -qxF "$conffile" "$tmp/control/conffiles" || fail "$conffile is not a conffile"
done
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version is not $version: $(cat "$tmp/info")"
depends=$(dpkg-deb -f "$deb" Depends)
# "a (>= 1), b | c" as one package name a line.
tr ',|' '\n\n' <<<"$depends" | sed -E 's/\(.*\)//; s/^ +//; s/ +$//' | sed '/^$/d' >"$tmp/depends"
grep -qxF adduser "$tmp/depends" || fail "Depends lacks adduser (postinst): $depends"
if grep -q -- '-dev$' "$tmp/depends"; then fail "Depends names a -dev package: $depends"; fi
mkdir "$tmp/root"
dpkg-deb -x "$deb" "$tmp/root"
arch_libs=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
for bin in revalidator-ingress revalidator-worker; do
  for lib in $(readelf -d "$tmp/root/usr/bin/$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    owner=""
    for dir in "/lib/$arch_libs" "/usr/lib/$arch_libs" /lib /usr/lib /lib64; do
      owner=$(dpkg -S "$dir/$lib" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$owner" ] && break
    done
    [ -n "$owner" ] || fail "no package owns $lib, which $bin needs"
    # The package, or a name it provides (libspdlog1.10 provides libspdlog1.10-fmt9, the name
    # its shlibs file gives).
    names=$(
      echo "${owner%%:*}"
      dpkg-query -W -f='${Provides}' "$owner" | tr ',' '\n' | sed -E 's/\(.*\)//; s/ //g'
    )
    grep -qxF -f <(sed '/^$/d' <<<"$names") "$tmp/depends" ||
      fail "$bin needs $lib of $owner, which Depends lacks: $depends"
  done
done

# The extracted tree as a unit sees the installed one: /usr/bin and /etc/revalidator inside it.
into_root() {
  sed -e "s#/usr/bin/#$tmp/root/usr/bin/#g" -e "s#/etc/revalidator/#$tmp/root/etc/revalidator/#g"
}

# 4. The units.
if command -v systemd-analyze >/dev/null; then
  mkdir "$tmp/units"
  for pair in ingress@site worker@articles; do
    unit=revalidator-${pair%@*}@.service
    into_root <"$tmp/root/lib/systemd/system/$unit" >"$tmp/units/$unit"
    ln -s "$unit" "$tmp/units/revalidator-$pair.service"
    dropins=$tmp/units/revalidator-$pair.service.d
    for example in none "$tmp"/root/usr/share/doc/revalidator/examples/"${pair%@*}"-*.conf; do
      rm -rf "$dropins"
      if [ "$example" != none ]; then
        mkdir "$dropins"
        cp "$example" "$dropins/"
      fi
      # --man=no: the units name no man page. The instance checks the template with %i resolved.
      (cd "$tmp/units" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
        "$tmp/units/revalidator-$pair.service") >"$tmp/verify.log" 2>&1 ||
        fail "systemd-analyze verify refuses $unit (drop-in: $example): $(cat "$tmp/verify.log")"
      # A warning is a refusal too: verify exits 0 on some it prints.
      if grep -q "revalidator" "$tmp/verify.log"; then
        fail "systemd-analyze verify warns about $unit (drop-in: $example): $(cat "$tmp/verify.log")"
      fi
    done
  done
else
  echo "check_deb: systemd-analyze is not installed: units not verified"
fi

# 5. The binaries, and the example files as the units run them.
for bin in revalidator-ingress revalidator-worker; do
  out=$("$tmp/root/usr/bin/$bin" --version) || fail "$bin --version failed: $out"
  [[ $out == "$bin $version "* ]] || fail "$bin --version printed: $out"
done
mkdir -m 700 "$tmp/credentials"
echo "a-webhook-secret-of-the-test" >"$tmp/credentials/secret"
for pair in ingress@site worker@articles; do
  unit=$tmp/root/lib/systemd/system/revalidator-${pair%@*}@.service
  instance=${pair#*@}
  expand() {  # the unit's specifiers and $CREDENTIALS_DIRECTORY, as systemd resolves them
    into_root | sed -e "s#%i#$instance#g" -e "s#%H#$(hostname)#g" \
      -e "s#\${CREDENTIALS_DIRECTORY}#$tmp/credentials#g"
  }
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit" | expand)
  [ -n "$exec_start" ] || fail "$unit has no ExecStart="
  # Nothing of this machine's environment: only what the unit sets (one assignment a line).
  mapfile -t env_vars < <(sed -n 's/^Environment=//p' "$unit" | expand)
  read -r -a argv <<<"$exec_start"
  out=$(env -i PATH=/usr/bin:/bin "${env_vars[@]}" "${argv[@]}" --check-config 2>&1) ||
    fail "the $pair instance's configuration is refused (${argv[*]} --check-config): $out"
done
echo "check_deb: $(basename "$deb") is complete, its units verify, its binaries run"
