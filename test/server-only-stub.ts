// Vitest runs server modules outside Next's react-server layer, where `server-only` throws.
export {};
