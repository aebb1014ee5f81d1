"""Developer and operator tooling for hksync: the `hksync` command, the local stack, the
simulator, ops, the reference client, the demo and the OpenAPI generator. Not in the Lambda
layer: nothing in the runtime package `hksync` imports it."""
