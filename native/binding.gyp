{
  "targets": [
    {
      "target_name": "pcf_native",
      "sources": [
        "src/addon.cc",
        "src/codec.cc",
        "src/counter_maps.cc",
        "src/errors.cc",
        "src/events.cc",
        "src/flow_map.cc",
        "src/map_info.cc",
        "src/map_ops.cc",
        "src/pinned_map.cc",
        "src/ruleset.cc",
        "src/trace.cc"
      ],
      "include_dirs": ["../include"],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                    "-Wno-comment", "<!@(pkg-config --cflags libbpf)"],
      "libraries": ["<!@(pkg-config --libs libbpf)"]
    }
  ]
}
