#!/usr/bin/env bash
# The smoke test after a stage's deploy (deploy.yml runs it after dev and staging):
#
#   deploy/smoke_test.sh STACK_NAME             a request without a token is refused (401), then
#                                               a small simulated user uploads one day and one
#                                               incremental sync, and every sync completes
#   deploy/smoke_test.sh STACK_NAME --no-user   the 401 only (prod: its app client allows SRP
#                                               sign-in only, and prod holds no test data)
#
# The user signs in to the stack's own Cognito user pool: always smoke@hksync.invalid (a reserved
# domain: no mail is ever sent), with a new password every run, masked and never printed. Needs
# the AWS CLI with the stage's deploy role (deploy/bootstrap.yaml: DescribeStacks, and
# AdminCreateUser and AdminSetUserPassword in the stage's pool) and .venv (`make install`).
set -euo pipefail

stack=${1:?usage: deploy/smoke_test.sh STACK_NAME [--no-user]}
with_user=true
if [[ "${2:-}" == --no-user ]]; then
  with_user=false
fi

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

api_url=$(output ApiUrl)
# The JWT authorizer guards every route: without a token, nothing reaches a function.
status=$(curl --silent --output /dev/null --write-out '%{http_code}' "$api_url/v1/anchors")
if [[ "$status" != 401 ]]; then
  echo "GET $api_url/v1/anchors without a token answered $status, not 401" >&2
  exit 1
fi
echo "without a token: 401"
if [[ "$with_user" == false ]]; then
  exit 0
fi

pool=$(output UserPoolId)
client=$(output UserPoolClientId)
if [[ -z "$pool" || "$pool" == None ]]; then
  echo "$stack has no user pool of its own (JwtIssuer is set): no smoke-test user" >&2
  exit 1
fi

username=smoke@hksync.invalid
# The pool's policy: 12 characters or more, upper and lower case, a digit.
password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')Aa1"
if [[ -n "${GITHUB_ACTIONS:-}" ]]; then
  echo "::add-mask::$password"
fi
if ! created=$(aws cognito-idp admin-create-user --user-pool-id "$pool" --username "$username" \
  --user-attributes Name=email,Value="$username" Name=email_verified,Value=true \
  --message-action SUPPRESS 2>&1 >/dev/null); then
  if [[ "$created" != *UsernameExistsException* ]]; then
    echo "$created" >&2
    exit 1
  fi
fi
aws cognito-idp admin-set-user-password --user-pool-id "$pool" --username "$username" \
  --password "$password" --permanent
token=$(aws cognito-idp initiate-auth --client-id "$client" --auth-flow USER_PASSWORD_AUTH \
  --auth-parameters "USERNAME=$username,PASSWORD=$password" \
  --query AuthenticationResult.AccessToken --output text)
if [[ -n "${GITHUB_ACTIONS:-}" ]]; then
  echo "::add-mask::$token"
fi

# Exits 1 unless every sync completes (uploaded, processed, stored in Aurora).
.venv/bin/hksync simulate --url "$api_url" --token "$token" --user smoke --days 1 --syncs 1
