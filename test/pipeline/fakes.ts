// The scene fakes moved to test/fakes/ (shared test doubles).
export * from '../fakes/scene.js';
