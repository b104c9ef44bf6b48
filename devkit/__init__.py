"""Dev-time provisioning: an embedded Apache Kafka broker and Schema Registry from Maven
Central jars, a Docker engine through testcontainers where one answers, and the local sandbox
of simulators. Production layers never import it; the demo, tests and benchmarks do."""
