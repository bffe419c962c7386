package org.livemig.engine.dataplane;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.StreamKind;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination host's data port, shared by all incoming migrations. Each connection gets its
 * own daemon thread: it reads the header (bounded by the handshake timeout), either refuses
 * (answer + close, nothing else changes) or hands it to the migration's {@link StreamHandler}
 * for the header's stream kind: precopy channels to the one {@link #expect} registers, other
 * kinds to those of {@link #expectStream}. A kind without a handler is refused.
 */
public final class DataPlaneServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DataPlaneServer.class);
  private static final int MAX_KEPT_REASONS = 1000;
  /** Accepted channels negotiate a window as large as the precopy sender's buffer; frames go without Nagle. */
  private static final LinkOptions LISTEN = new LinkOptions(0, PageSender.SOCKET_BUFFER, true);

  private final String bindHost;
  private final int requestedPort;
  private final DataPlaneSettings settings;
  private final Map<String, Registration> registrations = new ConcurrentHashMap<>();
  private final Set<DataChannel> connections = ConcurrentHashMap.newKeySet();
  private final AtomicLong refused = new AtomicLong();
  private final List<String> reasons = new ArrayList<>(); // guarded by itself
  private final AtomicInteger connectionSeq = new AtomicInteger();
  private final Watchdog watchdog;
  private volatile Transport.Acceptor server;
  private volatile boolean closed;

  public DataPlaneServer(String bindHost, int port, DataPlaneSettings settings) {
    this.bindHost = bindHost;
    this.requestedPort = port;
    this.settings = settings;
    this.watchdog = new Watchdog("dataplane-watchdog-server",
        Watchdog.tickFor(settings.handshakeTimeout(), settings.stallTimeout()));
  }

  public synchronized void start() {
    if (server != null) throw new IllegalStateException("already started");
    try {
      server = settings.transport().listen(bindHost, requestedPort, LISTEN);
    } catch (IOException e) {
      throw new DataPlaneException("cannot bind data port " + bindHost + ":" + requestedPort + ": " + e, e);
    }
    Thread acceptor = new Thread(this::acceptLoop, "dataplane-acceptor-" + port());
    acceptor.setDaemon(true);
    acceptor.start();
    log.info("data plane listening on {}:{}", bindHost, port());
  }

  public int port() {
    Transport.Acceptor s = server;
    if (s == null) throw new IllegalStateException("not started");
    return s.port();
  }

  /** Registers an incoming migration from any source host; its precopy channels may connect from now on. */
  public void expect(String migrationId, String token, int channels, InboundListener listener, GuestMemory memory, DirtyBitmap received) {
    expect(migrationId, token, channels, listener, memory, received, null);
  }

  /**
   * Registers an incoming migration; its precopy channels may connect from now on. On a transport
   * that authenticates peers (TLS), every channel of it (all stream kinds) is refused unless the
   * peer proved to be sourceHost; null accepts any peer. Plain TCP proves nobody: there the token
   * alone authorizes, as before.
   */
  public void expect(String migrationId, String token, int channels, InboundListener listener, GuestMemory memory, DirtyBitmap received,
      String sourceHost) {
    PrecopyReceiver precopy = new PrecopyReceiver(migrationId, channels, listener, memory, received, settings, watchdog);
    Registration reg = new Registration(migrationId, token, sourceHost);
    reg.register(StreamKind.PRECOPY_PAGES, precopy);
    if (registrations.putIfAbsent(migrationId, reg) != null) {
      throw new IllegalStateException("migration " + migrationId + " already expected");
    }
    log.info("expecting migration {} on {} channel(s)", migrationId, channels);
  }

  /**
   * Sends the migration's channels of kind (same token) to handler; before this they are refused
   * (postcopy ones as "not in postcopy yet", which the source retries). The migration must be expected.
   */
  public void expectStream(String migrationId, StreamKind kind, StreamHandler handler) {
    Registration reg = registrations.get(migrationId);
    if (reg == null) throw new IllegalStateException("migration " + migrationId + " is not expected");
    reg.register(kind, handler);
    log.info("expecting {} stream of migration {}", kind, migrationId);
  }

  /**
   * Unregisters a migration: its handlers close their open channels without failure callbacks.
   * Idempotent.
   */
  public void forget(String migrationId) {
    Registration reg = registrations.remove(migrationId);
    if (reg == null) return;
    reg.forget().forEach(StreamHandler::forget);
  }

  public long refusedChannels() {
    return refused.get();
  }

  public List<String> refusalReasons() {
    synchronized (reasons) {
      return List.copyOf(reasons);
    }
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    Transport.Acceptor s = server;
    if (s != null) closeQuietly(s, "data port");
    for (String id : List.copyOf(registrations.keySet())) forget(id);
    for (DataChannel c : connections) c.close();
    watchdog.close();
  }

  private void acceptLoop() {
    while (!closed) {
      DataChannel c;
      try {
        c = DataChannel.accepted(server.accept(), settings);
      } catch (ClosedChannelException e) {
        if (!closed) log.error("data port closed unexpectedly", e);
        return;
      } catch (IOException e) {
        log.warn("accept on data port failed: {}", e.toString());
        sleepAfterAcceptFailure();
        continue;
      }
      connections.add(c);
      Thread t = new Thread(() -> handle(c), "dataplane-conn-" + connectionSeq.incrementAndGet());
      t.setDaemon(true);
      t.start();
    }
  }

  private void handle(DataChannel c) {
    SocketAddress peer = c.remoteAddress();
    try {
      ChannelHeader header;
      try {
        header = c.readHeader(watchdog, settings.handshakeTimeout());
      } catch (DataPlaneException e) {
        refuse(c, peer, e.getMessage());
        return;
      }
      Registration reg = registrations.get(header.getMigrationId());
      String reason = check(header, reg, c.peerIdentity());
      StreamHandler.Admission admission = reason != null ? StreamHandler.Admission.refuse(reason) : reg.admit(header, c);
      if (admission.refused()) {
        refuse(c, peer, admission.refusal());
        return;
      }
      c.accept();
      admission.session().run();
    } catch (RuntimeException e) {
      log.warn("data connection from {} failed during handshake: {}", peer, e.toString());
    } finally {
      connections.remove(c);
      c.close();
    }
  }

  private static String check(ChannelHeader h, Registration reg, Optional<String> peer) {
    if (h.getProtocolVersion() != DataPlane.PROTOCOL_VERSION) {
      return "unsupported protocol version " + h.getProtocolVersion() + " (expected " + DataPlane.PROTOCOL_VERSION + ")";
    }
    if (reg == null) return "unknown migration " + h.getMigrationId();
    // Constant-time compare: the token is the only secret on this port.
    if (!MessageDigest.isEqual(reg.token.getBytes(StandardCharsets.UTF_8), h.getToken().getBytes(StandardCharsets.UTF_8))) {
      return "wrong token for migration " + reg.migrationId;
    }
    if (reg.sourceHost != null && peer.isPresent() && !peer.get().equals(reg.sourceHost)) {
      return "peer " + peer.get() + " is not the source host of migration " + reg.migrationId;
    }
    return null;
  }

  private void refuse(DataChannel c, SocketAddress peer, String reason) {
    // The source's first postcopy connection usually beats the destination's Finish and retries.
    if (reason.contains(DataPlane.NOT_IN_POSTCOPY)) log.debug("refused data channel from {}: {}", peer, reason);
    else log.warn("refused data channel from {}: {}", peer, reason);
    refused.incrementAndGet();
    synchronized (reasons) {
      if (reasons.size() == MAX_KEPT_REASONS) reasons.remove(0);
      reasons.add(reason);
    }
    c.refuse(reason);
  }

  private static void closeQuietly(java.io.Closeable c, String what) {
    try {
      c.close();
    } catch (IOException e) {
      log.debug("closing {} failed: {}", what, e.toString());
    }
  }

  private static void sleepAfterAcceptFailure() {
    try {
      TimeUnit.MILLISECONDS.sleep(50); // e.g. out of file descriptors: do not spin
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
