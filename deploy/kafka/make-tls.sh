#!/bin/bash
# make-tls.sh - a private CA and the TLS files of a three-node Kafka cluster
# (deploy/compose.yaml): one certificate per broker (its host name in the
# subject alternative name, which clients check), one for the administrator
# client (a super user: topics, SCRAM users, ACLs), and admin.properties.
#
#   deploy/kafka/make-tls.sh deploy/kafka/tls kafka-1 kafka-2 kafka-3
#
# Keep OUT private (mode 0700); give the services ca.pem only
# (SP_KAFKA_SSL_CA_FILE). Certificates last 825 days: renew before.
set -euo pipefail
OUT=${1:?usage: make-tls.sh OUT_DIR BROKER_HOST...}
shift
[ $# -ge 1 ] || { echo "name at least one broker host" >&2; exit 2; }
umask 077
mkdir -p "$OUT"
cd "$OUT"
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -keyout ca.key -out ca.pem -days 3650 \
    -subj "/CN=solipass Kafka CA"
fi
issue() {   # name [dns]
  local name=$1 dns=${2:-}
  openssl req -newkey rsa:3072 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name"
  local ext="extendedKeyUsage=serverAuth,clientAuth"
  [ -n "$dns" ] && ext="$ext
subjectAltName=DNS:$dns"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -out "$name.crt" -extfile <(printf '%s\n' "$ext")
  # Kafka's PEM key store: the PKCS#8 key, then the certificate.
  openssl pkcs8 -topk8 -nocrypt -in "$name.key" > "$name.pem"
  cat "$name.crt" >> "$name.pem"
  rm -f "$name.csr"
}
for broker in "$@"; do issue "$broker" "$broker"; done
issue kafka-admin
cat > admin.properties <<PROPERTIES
security.protocol=SSL
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/tls/ca.pem
ssl.keystore.type=PEM
ssl.keystore.location=/etc/kafka/tls/kafka-admin.pem
PROPERTIES
chmod 0644 ca.pem
echo "TLS files in $OUT: ca.pem (for the services), <broker>.pem, kafka-admin.pem, admin.properties"
