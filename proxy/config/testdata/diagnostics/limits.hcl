listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers         = ["ws://127.0.0.1:9000"]
  connect_timeout = "2"
}

route "chat" {
  upstream = "chat"
  limits {
    max_message_size = "1.5MiB"
    max_frame_size   = "64MiB"
    idle_timeout     = "-5m"
    max_connections  = 2.5
    max_message_rate = "fast"

    client_max_message_size = "4KiB"
    client_max_frame_size   = "8KiB"
  }
}

limits {
  max_message_size = "1MiB"
  max_frame_size   = "2MiB"
  max_header_size  = "512B"
  write_timeout    = "0"

  max_connections_per_ip = -1
  message_burst          = 5

  upstream_max_message_size = "0"
  upstream_max_frame_size   = "2 MiB"
}

limits {
  ping_interval = "10s"
}
