#!/usr/bin/env bash
# Build Apache Mesos 1.12.0 (commit c1b42f79d) for Debian 12 hosts, as the tests' prebuilt copy
# was built (../shared/notes/mesos-build.md): Debian's protobuf, gRPC, ZooKeeper and libarchive
# instead of the bundled tarballs, the three source changes in scripts/mesos/*.patch, -O0.
# About 30 minutes on 2 cores; 282 MB installed, 40 MB packed. Resumable: each step leaves a
# stamp in the work directory, and a second run goes on where the first stopped (make resumes
# too). The result is a tarball whose files `artifacts.mesos` names (docs/mesos.md).
#
#   scripts/build-mesos.sh [WORK_DIR]      (default /var/tmp/ovl-mesos-build)
#   MESOS_GIT=/path/to/a/mirror scripts/build-mesos.sh     (default https://github.com/apache/mesos)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-/var/tmp/ovl-mesos-build}"
commit=c1b42f79d157aa900be5cbb0c1023f1479962aa7
version=1.12.0
name="mesos-${version}-${commit:0:9}-debian12-amd64"
git_url="${MESOS_GIT:-https://github.com/apache/mesos}"
jobs="${JOBS:-$(( $(nproc) + 1 ))}"
mkdir -p "$work"
cd "$work"
step() { [ -e "$work/.done-$1" ]; }
done_() { touch "$work/.done-$1"; echo "== $1 done ($(date +%T))"; }

if ! step packages; then
  apt-get install -y --no-install-recommends build-essential autoconf automake libtool git zstd \
    libcurl4-openssl-dev libsasl2-dev libapr1-dev libsvn-dev zlib1g-dev libssl-dev \
    libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc libzookeeper-mt-dev libarchive-dev
  done_ packages
fi

if ! step source; then
  # Five of 3rdparty's tarballs are replaced by Debian's libraries (and absent from some copies):
  # a sparse checkout leaves them out.
  rm -rf src
  git clone --no-checkout "$git_url" src
  git -C src sparse-checkout init --no-cone
  printf '%s\n' '/*' '!/3rdparty/gperftools-2.5.tar.gz' '!/3rdparty/grpc-1.11.1.tar.gz' \
    '!/3rdparty/libarchive-3.3.2.tar.gz' '!/3rdparty/protobuf-3.5.0.tar.gz' '!/3rdparty/zookeeper-3.4.8.tar.gz' \
    > src/.git/info/sparse-checkout
  git -C src checkout -q "$commit"
  done_ source
fi

if ! step patch; then
  git -C src apply "$here/mesos/mesos-${version}-${commit:0:9}.patch"
  done_ patch
fi

if ! step bootstrap; then
  (cd src && ./bootstrap)
  done_ bootstrap
fi

if ! step configure; then
  mkdir -p build
  (cd build && ../src/configure --prefix=/opt/mesos --disable-java --disable-python --disable-werror \
    --with-protobuf=/usr --with-grpc=/usr --with-zookeeper=/usr --with-libarchive=/usr \
    CFLAGS="-O0 -g0" CXXFLAGS="-O0 -g0")
  done_ configure
fi

if ! step make; then
  # -k: every failing unit in one pass; a second run resumes.
  make -C build -k -j"$jobs"
  done_ make
fi

if ! step install; then
  rm -rf "dist/$name"
  make -C build install DESTDIR="$work/stage"
  mkdir -p "dist/$name"
  cp -a stage/opt/mesos/{bin,lib,libexec,sbin,share} "dist/$name/"
  rm -f "dist/$name"/lib/*.la
  find "dist/$name" -type f -perm -u+x -exec sh -c 'file -b "$1" | grep -q ELF && strip --strip-unneeded "$1"' _ {} \;
  strip --strip-unneeded "dist/$name"/lib/libmesos-*.so
  {
    echo "Apache Mesos ${version}, source commit ${commit} ($git_url)."
    echo "Built on $(. /etc/os-release && echo "$PRETTY_NAME"), $(dpkg --print-architecture), $(date +%F), by ovl's scripts/build-mesos.sh."
    echo "Runtime Debian packages: libapr1 libarchive13 libcurl4 libgrpc++1.51 libgrpc29 libprotobuf32 libsasl2-2 libsvn1 libzookeeper-mt2"
  } > "dist/$name/BUILD-INFO"
  done_ install
fi

if ! step pack; then
  tar -C dist -c "$name" | zstd -19 -T0 -q -o "$name.tar.zst" -f
  sha256sum "$name.tar.zst" > SHA256SUMS
  done_ pack
fi

echo
echo "Built: $work/$name.tar.zst ($(du -h "$name.tar.zst" | cut -f1); unpacked $(du -sh "dist/$name" | cut -f1)) and $work/SHA256SUMS."
echo "Name its files in the inventory (docs/mesos.md), e.g. after unpacking it to /opt/ovl/$name:"
echo "  artifacts:"
echo "    mesos:"
echo "      - version: \"$version\""
echo "        files: { mesos-master: /opt/ovl/$name/sbin/mesos-master, mesos-agent: /opt/ovl/$name/sbin/mesos-agent,"
echo "                 libmesos-$version.so: /opt/ovl/$name/lib/libmesos-$version.so, mesos-executor: ..., one entry per file of libexec/mesos/ }"
