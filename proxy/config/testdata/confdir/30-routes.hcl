route "public" {
  listener = "public"
  upstream = "chat"
  limits {
    max_message_size = "1MiB"
  }
}

route "internal" {
  listener = "internal"
  upstream = "chat"
}

limits {
  idle_timeout = "10m"
}
