/**
 * The nginx configuration of a local cluster (npm run cluster, and the cluster tests): a whole
 * nginx.conf whose http block holds the same upstream and proxy settings as
 * deploy/nginx/causerie.conf, with every path inside one folder so nginx runs as a child process.
 */
export function localNginxConfig(options: {
  /** Folder for the pid file, the error log and nginx's temporary files. */
  dir: string;
  /** Port nginx listens on (loopback). */
  port: number;
  nodePorts: number[];
  /**
   * How long nginx keeps an idle connection to a node. Keep it below the nodes'
   * CAUSERIE_SHUTDOWN_DELAY_MS: a draining node then never closes a connection nginx may reuse.
   */
  keepaliveSeconds: number;
}): string {
  const { dir } = options;
  // nginx started as root hands its workers to "nobody", who cannot write in a private temp folder.
  const asRoot = process.getuid?.() === 0;
  return `${asRoot ? 'user root;\n' : ''}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream causerie {
${options.nodePorts.map((port) => `    server 127.0.0.1:${port} max_fails=1 fail_timeout=1s;`).join('\n')}
    keepalive 64;
    keepalive_timeout ${options.keepaliveSeconds}s;
  }
  server {
    listen 127.0.0.1:${options.port};
    client_max_body_size 64m;
    location / {
${proxySettings}
    }
  }
}
`;
}

/** The proxy settings of deploy/nginx/causerie.conf's location (kept identical by a test). */
export const proxySettings = `      proxy_pass http://causerie;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Last-Event-ID $http_last_event_id;
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_next_upstream error timeout http_503;
      proxy_next_upstream_tries 3;
      proxy_next_upstream_timeout 10s;`;
