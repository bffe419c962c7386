package org.livemig.engine.dataplane;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
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
 * The destination host's data port, shared by all incoming migrations. A new connection waits in
 * the {@link HandshakeGate} (no thread of its own, a bounded number at once) until its header is
 * in; then it gets its own daemon thread, which checks the header and either refuses (answer +
 * close, nothing else changes) or hands it to the migration's {@link StreamHandler}
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
  private volatile HandshakeGate gate;
  private final AtomicLong lastGateLog = new AtomicLong(System.nanoTime() - 2_000_000_000L);
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
    try {
      gate = new HandshakeGate(settings.transport(), settings.maxPendingHandshakes(), settings.handshakeTimeout(),
          this::headerArrived, this::refusedAtGate);
    } catch (IOException e) {
      closeQuietly(server, "data port");
      throw new DataPlaneException("cannot open the data port's selector: " + e, e);
    }
    gate.start("dataplane-handshakes-" + port());
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
    register(migrationId, token, StreamKind.PRECOPY_PAGES, precopy, sourceHost);
    log.info("expecting migration {} on {} channel(s)", migrationId, channels);
  }

  /**
   * Registers a stream of kind alone (a protection's CHECKPOINT stream: no precopy channels), under
   * migrationId and token; on an authenticating transport only sourceHost may open it.
   */
  public void expectStreamOnly(String migrationId, String token, StreamKind kind, StreamHandler handler, String sourceHost) {
    register(migrationId, token, kind, handler, sourceHost);
    log.info("expecting the {} stream of {}", kind, migrationId);
  }

  private void register(String migrationId, String token, StreamKind kind, StreamHandler handler, String sourceHost) {
    Registration reg = new Registration(migrationId, token, sourceHost == null || sourceHost.isEmpty() ? null : sourceHost);
    reg.register(kind, handler);
    if (registrations.putIfAbsent(migrationId, reg) != null) {
      throw new IllegalStateException("migration " + migrationId + " already expected");
    }
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

  /** Connections open on this port now whose header arrived: being checked, or carrying a migration's stream. */
  public int openChannels() {
    return connections.size();
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
    HandshakeGate g = gate;
    if (g != null) g.close();
    for (String id : List.copyOf(registrations.keySet())) forget(id);
    for (DataChannel c : connections) c.close();
    watchdog.close();
  }

  /**
   * Takes sockets off the port and leaves them to the gate until their header is in. Survives
   * every error but the port's close: a failed accept (out of file descriptors, say) is retried.
   */
  private void acceptLoop() {
    while (!closed) {
      try {
        gate.admit(server.accept());
      } catch (ClosedChannelException e) {
        if (!closed) log.error("data port closed unexpectedly", e);
        return;
      } catch (IOException | RuntimeException e) {
        log.warn("accept on data port failed: {}", e.toString());
        sleepAfterAcceptFailure();
      }
    }
  }

  /** On the gate's thread: the header is in; the connection gets its buffers and its own thread. */
  private void headerArrived(SocketChannel socket, ByteBuffer prefix) {
    DataChannel c = null;
    try {
      c = DataChannel.accepted(server.open(socket, prefix), settings);
      connections.add(c);
      DataChannel channel = c;
      Thread t = new Thread(() -> handle(channel), "dataplane-conn-" + connectionSeq.incrementAndGet());
      t.setDaemon(true);
      t.start();
    } catch (IOException | RuntimeException | OutOfMemoryError e) {
      // e.g. "unable to create native thread": this connection is lost, the port goes on.
      log.warn("data connection from {} dropped: {}", remoteAddress(socket), e.toString());
      if (c != null) {
        connections.remove(c);
        c.close();
      } else {
        closeQuietly(socket, "data connection");
      }
      counted("dropped: " + e);
    }
  }

  private static Object remoteAddress(SocketChannel s) {
    try {
      return s.getRemoteAddress();
    } catch (IOException e) {
      return "?";
    }
  }

  private void handle(DataChannel c) {
    SocketAddress peer = c.remoteAddress();
    try {
      ChannelHeader header;
      try {
        header = c.readHeader(watchdog, settings.handshakeTimeout());
      } catch (DataPlaneException e) {
        refuse(c, peer, e.getMessage(), e.getMessage());
        return;
      }
      Registration reg = registrations.get(header.getMigrationId());
      String reason = check(header, reg, c.peerIdentity());
      if (reason != null) {
        // An unknown migration and a wrong token get the same answer: without the token a peer
        // learns nothing about which migrations exist. The log keeps the difference.
        boolean probe = header.getProtocolVersion() == DataPlane.PROTOCOL_VERSION && (reg == null || reason.startsWith("wrong token"));
        refuse(c, peer, reason, probe ? "unknown migration " + header.getMigrationId() + " or wrong token" : reason);
        return;
      }
      StreamHandler.Admission admission = reg.admit(header, c);
      if (admission.refused()) {
        refuse(c, peer, admission.refusal(), admission.refusal());
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

  /** reason is logged and kept; answer is what the peer is told. */
  private void refuse(DataChannel c, SocketAddress peer, String reason, String answer) {
    // The source's first postcopy connection usually beats the destination's Finish and retries.
    if (reason.contains(DataPlane.NOT_IN_POSTCOPY)) log.debug("refused data channel from {}: {}", peer, reason);
    else log.warn("refused data channel from {}: {}", peer, reason);
    counted(reason);
    c.refuse(answer);
  }

  private void counted(String reason) {
    refused.incrementAndGet();
    synchronized (reasons) {
      if (reasons.size() == MAX_KEPT_REASONS) reasons.remove(0);
      reasons.add(reason);
    }
  }

  /** The gate closed a connection before its header was in: every one counted, logged at most once a second. */
  private void refusedAtGate(String reason) {
    counted(reason);
    long now = System.nanoTime();
    long last = lastGateLog.get();
    if (now - last > 1_000_000_000L && lastGateLog.compareAndSet(last, now)) {
      log.warn("closed a data connection before its header: {} ({} refused so far)", reason, refused.get());
    }
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
