#!/bin/bash
# acls.sh - the Kafka users of solipass and what each may write.
#
# The ledger trusts its command topic: only the gateway and the refunds
# service may write it, and every topic has its one set of writers. Every
# service authenticates with SASL/SCRAM-SHA-512 over TLS as solipass-<name>
# (SP_KAFKA_SASL_USERNAME); the brokers run StandardAuthorizer with
# allow.everyone.if.no.acl.found=false, so what is not granted here is refused.
# Reads are granted on every solipass topic and consumer group to every
# service user (the log is not secret between solipass services; writing
# is what moves money).
#
# Run once after the topics exist, and again after a password change, by an
# administrator principal (a super user): the compose topic job runs it with
# the admin client certificate; on hosts:
#
#   KAFKA_BIN=/opt/kafka/bin BOOTSTRAP=kafka-1.internal:9094 \
#   ADMIN_CONFIG=/etc/kafka/admin.properties \
#   SP_KAFKA_PASSWORD_GATEWAY=... SP_KAFKA_PASSWORD_ACCOUNTS=... (one per service) \
#   deploy/kafka/acls.sh
#
# Make each password with: openssl rand -base64 32
set -euo pipefail

KAFKA_BIN=${KAFKA_BIN:-/opt/kafka/bin}
BOOTSTRAP=${BOOTSTRAP:?set BOOTSTRAP (an admin listener, host:port)}
ADMIN_CONFIG=${ADMIN_CONFIG:?set ADMIN_CONFIG (the admin client properties file)}
SERVICES="gateway accounts transactions projection notifications refunds finance exports"

# Who writes each topic (docs/events.md): nobody else may.
declare -A WRITERS=(
  [solipass.accounts.commands.v1]="gateway"
  [solipass.accounts.events.v1]="accounts"
  [solipass.ledger.commands.v1]="gateway refunds"
  [solipass.ledger.events.v1]="transactions"
  [solipass.replies.v1]="accounts transactions exports"
  [solipass.deadletter.v1]="accounts transactions projection notifications refunds finance exports"
  [solipass.finance.v1]="finance"
  [solipass.finance.json.v1]="finance"
  [solipass.exports.commands.v1]="gateway"
)

acls() { "$KAFKA_BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" "$@"; }

for service in $SERVICES; do
  var="SP_KAFKA_PASSWORD_${service^^}"
  password=${!var:?set $var (openssl rand -base64 32)}
  case "$password" in *change-me*|*changeme*) echo "$var is a placeholder" >&2; exit 1;; esac
  # The SCRAM credential the service logs in with.
  "$KAFKA_BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" \
    --alter --entity-type users --entity-name "solipass-$service" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]"
  # Read every solipass topic and use the solipass-* consumer groups.
  acls --add --allow-principal "User:solipass-$service" --operation Read --operation Describe \
    --topic solipass. --resource-pattern-type prefixed
  acls --add --allow-principal "User:solipass-$service" --operation Read --operation Describe \
    --group solipass --resource-pattern-type prefixed
done

for topic in "${!WRITERS[@]}"; do
  for service in ${WRITERS[$topic]}; do
    acls --add --allow-principal "User:solipass-$service" --operation Write --topic "$topic"
  done
done

acls --list
