# One image for both roles: `api` and `worker` differ only in their command. Both run the built
# code (`npm run build`: dist/, the workflow bundle made once), with node, no tsx at run time.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
# Debian's ffmpeg: the same build the tests run against.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# ffmpeg-static is optional and not needed here (system ffmpeg above).
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund
# The sources stay for the CLI (bin/mediaflow.js) and scripts/keys.ts; the services run dist/.
COPY . .
COPY --from=build /app/dist ./dist
ENV NODE_ENV=production DATA_DIR=/data HOST=0.0.0.0
USER node
CMD ["node", "--enable-source-maps", "dist/api/server.js"]
