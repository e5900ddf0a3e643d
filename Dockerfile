# One image for both roles: `api` and `worker` differ only in their command.
FROM node:20-bookworm-slim
# Debian's ffmpeg: the same build the tests run against.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# ffmpeg-static is optional and not needed here (system ffmpeg above).
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund
COPY . .
ENV NODE_ENV=production DATA_DIR=/data HOST=0.0.0.0
USER node
CMD ["npx", "tsx", "api/server.ts"]
