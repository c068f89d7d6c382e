// Configuration: the option table, its parsers, loading and the docs derived from it.
export { helpText, optionsMarkdown } from "./docs.js";
export {
  ConfigError,
  type ConfigSources,
  type LobbyOrder,
  type LogIpMode,
  loadConfig,
  type MasterConfig,
  type ProxyProtocolMode,
  type RedisTarget,
} from "./load.js";
export { OPTIONS, type OptionKey, type OptionSpec, type OptionValues } from "./options.js";
export type { HostPort } from "./parsers.js";
