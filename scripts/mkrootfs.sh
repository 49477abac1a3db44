#!/bin/sh
# mkrootfs.sh DIR - a minimal root file system from busybox-static: /bin with
# busybox and its applets, and the mount points nslua uses (proc dev tmp sys).
set -eu
dir=${1:?usage: mkrootfs.sh DIR}
bb=/bin/busybox
[ -x "$bb" ] || { echo "mkrootfs.sh: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/bin" "$dir/proc" "$dir/dev" "$dir/tmp" "$dir/sys" "$dir/etc" "$dir/root"
cp "$bb" "$dir/bin/busybox"
for a in $("$bb" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
done
ln -sfn bin "$dir/sbin"
mkdir -p "$dir/usr"
ln -sfn ../bin "$dir/usr/bin"
echo "root:x:0:0:root:/root:/bin/sh" > "$dir/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/false" >> "$dir/etc/passwd"
echo "root:x:0:" > "$dir/etc/group"
echo "nogroup:x:65534:" >> "$dir/etc/group"
chmod 0755 "$dir" "$dir/bin" "$dir/etc"
chmod 1777 "$dir/tmp"
