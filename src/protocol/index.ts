// The GMnet master protocol codec: bytes in, typed messages out, and back.
export * from "./encoders.js";
export * from "./errors.js";
export * from "./ip.js";
export * from "./messages.js";
export * from "./tcp-decoder.js";
export * from "./udp-decoder.js";
export * from "./game-side.js";
