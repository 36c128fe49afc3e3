// Preload for third-party node servers (node --require ./loopback.cjs ...):
//  * every TCP listen() in the process binds 127.0.0.1 (server-everything calls
//    app.listen(PORT) without a host, which would be all interfaces);
//  * with INTEROP_PORT_FILE set, the first TCP port actually bound is written
//    there (atomically), so PORT=0 lets the kernel pick a free port without a
//    race between choosing it and listening on it.
// Unix-socket / fd / handle listens are left alone.
"use strict";
const net = require("net");
const dns = require("dns");
const fs = require("fs");
const HOST = "127.0.0.1";
const PORT_FILE = process.env.INTEROP_PORT_FILE;
const orig = net.Server.prototype.listen;
let written = false;

function isPort(v) {
  return typeof v === "number" || (typeof v === "string" && /^\d+$/.test(v));
}

net.Server.prototype.listen = function (...args) {
  let tcp = true;
  if (args.length === 0 || typeof args[0] === "function") {
    args = [0, HOST, ...args];
  } else if (isPort(args[0])) {
    if (typeof args[1] === "string") args[1] = HOST;
    else args.splice(1, 0, HOST);
  } else if (args[0] && typeof args[0] === "object" && !Array.isArray(args[0])) {
    const o = args[0];
    if (o.path === undefined && o.fd === undefined && o._handle === undefined && o.handle === undefined) {
      args[0] = Object.assign({}, o, { host: HOST });
    } else {
      tcp = false;
    }
  } else {
    tcp = false; // a pipe path
  }
  if (tcp && PORT_FILE && !written) {
    this.once("listening", () => {
      const addr = this.address();
      if (written || !addr || typeof addr !== "object") return;
      written = true;
      fs.writeFileSync(PORT_FILE + ".tmp", String(addr.port) + "\n");
      fs.renameSync(PORT_FILE + ".tmp", PORT_FILE);
    });
  }
  // Keep binding synchronous like a host-less listen(): node resolves even an
  // IP literal through an async dns.lookup, so answer IP literals at once.
  const origLookup = dns.lookup;
  dns.lookup = function (host, opts, cb) {
    if (typeof opts === "function") cb = opts;
    const fam = net.isIP(host);
    if (fam && typeof cb === "function") {
      // node >= 22 asks with { all: true } and expects a list of addresses
      if (opts && typeof opts === "object" && opts.all) cb(null, [{ address: host, family: fam }]);
      else cb(null, host, fam);
      return {};
    }
    return origLookup.apply(this, arguments);
  };
  try {
    return orig.apply(this, args);
  } finally {
    dns.lookup = origLookup;
  }
};
