"""Build, package and run the SOS 1379 template: the local stack on moto and the AWS deploy helpers."""
