import { serve } from "./server-api.js";

// The one module that starts the service when loaded (`npm start`, `npm run dev`, `modelservice serve`).
void serve();
