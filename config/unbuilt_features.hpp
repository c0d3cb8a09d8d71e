// Keys whose schema is parsed and validated but whose behaviour is not built yet.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "config/config.hpp"
#include "config/yaml_reader.hpp"

namespace certgate::config::detail {

// Reports "not supported yet" for every such key that is set: redirect_http, admin, a
// non-empty allow list, csrf, cookies. Shipping a feature means deleting it from here.
void refuse_unbuilt_features(const YAML::Node& root, Diagnostics& diagnostics);

// parse_config without that refusal, so that tests can pin how those keys are read.
Config parse_config_with_unbuilt_features(const std::string& yaml_text,
                                          const std::string& display_name);

}  // namespace certgate::config::detail
