# Shared by the bench scripts (sourced, not run).

# Runs a command quietly (openssl's key generation prints progress), showing its output
# only when it fails. Needs $work.
quiet() {
  "$@" >"$work/command.log" 2>&1 || { cat "$work/command.log" >&2; exit 1; }
}

# make_test_keys DIR: a throwaway test CA (P-256) in DIR/ca.{key,pem} and one signer per key
# type, DIR/{ec,rsa}.key with DIR/{ec,rsa}.chain.pem (leaf, then CA). The loader refuses key
# files readable by group or others, hence umask and chmod 600.
make_test_keys() {
  local dir=$1 name serial=1
  (
    umask 077
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n' \
      >"$dir/leaf.ext"
    quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key"
    quiet openssl req -x509 -new -key "$dir/ca.key" -subj '/CN=credd bench CA' -days 2 \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -out "$dir/ca.pem"
    for name in ec rsa; do
      case $name in
        ec) genpkey=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) ;;
        rsa) genpkey=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
      esac
      quiet openssl genpkey "${genpkey[@]}" -out "$dir/$name.key"
      chmod 600 "$dir/$name.key"
      quiet openssl req -new -key "$dir/$name.key" -out "$dir/$name.csr" \
        -subj "/CN=credd bench signer $name/O=Test College"
      serial=$((serial + 1))
      quiet openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -set_serial "$serial" -days 2 -extfile "$dir/leaf.ext" -out "$dir/$name.pem"
      cat "$dir/$name.pem" "$dir/ca.pem" >"$dir/$name.chain.pem"
    done
  )
}
