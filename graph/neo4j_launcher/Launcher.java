package org.entgraph.neo4j;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.ConnectorPortRegister;
import org.neo4j.configuration.connectors.ConnectorType;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.internal.helpers.HostnamePort;
import org.neo4j.kernel.internal.GraphDatabaseAPI;

/**
 * Runs a Neo4j Community DBMS embedded in this JVM with only the Bolt connector enabled.
 *
 * <pre>
 * java [-Xmx512m] -cp CLASSPATH org.entgraph.neo4j.Launcher \
 *      --home DIR --bolt 127.0.0.1:7687 [--pagecache 64m] [--conf neo4j.conf] [--stop-on-stdin-eof]
 * </pre>
 *
 * Every option can also be given as a system property: -Dentgraph.neo4j.home, .bolt, .pagecache, .conf,
 * .stopOnStdinEof. Command-line arguments win. Port 0 picks a free port; the READY line shows the real one.
 *
 * stdout carries exactly one line, "READY bolt://HOST:PORT", once the default database is available;
 * everything else goes to stderr or to HOME/logs.
 *
 * Exit codes: 0 clean shutdown, 1 unexpected startup failure, 2 bad usage,
 * 3 Bolt port already in use, 4 data folder locked by another process, 5 default database not available.
 */
public final class Launcher {
    static final int EXIT_FAILURE = 1, EXIT_USAGE = 2, EXIT_PORT_IN_USE = 3, EXIT_STORE_LOCKED = 4, EXIT_NOT_AVAILABLE = 5;

    private static final PrintStream OUT = System.out; // READY line only
    private static final PrintStream ERR = System.err;

    /** Exit status used once the shutdown hook has stopped the DBMS (0 for SIGTERM/SIGINT/stdin EOF). */
    private static volatile int exitStatus = 0;

    public static void main(String[] args) {
        String home = System.getProperty("entgraph.neo4j.home");
        String bolt = System.getProperty("entgraph.neo4j.bolt", "127.0.0.1:7687");
        String pagecache = System.getProperty("entgraph.neo4j.pagecache");
        String conf = System.getProperty("entgraph.neo4j.conf");
        boolean stopOnStdinEof = Boolean.getBoolean("entgraph.neo4j.stopOnStdinEof");

        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--home": home = value(args, ++i, a); break;
                case "--bolt": bolt = value(args, ++i, a); break;
                case "--pagecache": pagecache = value(args, ++i, a); break;
                case "--conf": conf = value(args, ++i, a); break;
                case "--stop-on-stdin-eof": stopOnStdinEof = true; break;
                case "-h": case "--help": usage(null); return;
                default: usage("unknown argument: " + a);
            }
        }
        if (home == null) usage("--home is required");

        int colon = bolt.lastIndexOf(':');
        if (colon <= 0) usage("--bolt must be HOST:PORT, got " + bolt);
        String host = bolt.substring(0, colon).replace("[", "").replace("]", "");
        int port;
        try {
            port = Integer.parseInt(bolt.substring(colon + 1));
        } catch (NumberFormatException e) {
            usage("bad port in --bolt " + bolt);
            return;
        }
        if (port < 0 || port > 65535) usage("port out of range: " + port);
        try {
            if (!InetAddress.getByName(host).isLoopbackAddress()) {
                usage("refusing non-loopback Bolt address " + host + " (auth is disabled)");
            }
        } catch (IOException e) {
            usage("cannot resolve " + host + ": " + e.getMessage());
        }

        Path homeDir = Path.of(home).toAbsolutePath().normalize();
        try {
            Files.createDirectories(homeDir);
        } catch (IOException e) {
            fail(EXIT_FAILURE, "cannot create home " + homeDir + ": " + e);
        }

        // Fail fast (and clearly) before spending seconds starting the DBMS. Neo4j's own bind
        // failure is still handled below, in case something grabs the port in between.
        if (port != 0) {
            try (ServerSocket probe = new ServerSocket()) {
                probe.bind(new InetSocketAddress(host, port));
            } catch (IOException e) {
                fail(EXIT_PORT_IN_USE, "Bolt port " + host + ":" + port + " is already in use (" + e.getMessage() + ")");
            }
        }

        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(homeDir);
        builder.setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.logs_directory, homeDir.resolve("logs"))
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                // With the --add-opens flags Neo4j can fallocate, and then every database (system + neo4j)
                // pre-allocates a 256 MiB transaction log: ~515 MB on disk for an empty home. Grow on demand instead.
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                // Internal (unsupported) setting: Netty's graceful-shutdown quiet period defaults to 5 s and is
                // paid twice (bolt + bolt-local event loops), i.e. ~10 s on every stop. Databases are already
                // checkpointed and closed by then, so 0 costs nothing. A --conf file can still override it.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0);
        if (pagecache != null) builder.setConfig(GraphDatabaseSettings.pagecache_memory, parseBytes(pagecache));
        if (conf != null) builder.loadPropertiesFromFile(Path.of(conf)); // neo4j.conf syntax, applied last

        long t0 = System.nanoTime();
        DatabaseManagementService dbms;
        try {
            dbms = builder.build();
        } catch (Throwable t) {
            if (hasCause(t, BindException.class)) {
                fail(EXIT_PORT_IN_USE, "Bolt port " + host + ":" + port + " is already in use: " + rootMessage(t));
            }
            if (hasCauseNamed(t, "FileLockException")) {
                fail(EXIT_STORE_LOCKED, "data folder " + homeDir + " is locked by another Neo4j process: " + rootMessage(t));
            }
            t.printStackTrace(ERR);
            fail(EXIT_FAILURE, "Neo4j failed to start: " + rootMessage(t));
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            long s0 = System.nanoTime();
            ERR.println("entgraph-neo4j: shutting down");
            try {
                dbms.shutdown();
            } catch (Throwable t) {
                ERR.println("entgraph-neo4j: error during shutdown: " + t);
                if (exitStatus == 0) exitStatus = EXIT_FAILURE;
            }
            ERR.printf(Locale.ROOT, "entgraph-neo4j: stopped in %d ms%n", (System.nanoTime() - s0) / 1_000_000);
            ERR.flush();
            stopped.countDown();
            // Without this the JVM reports 143 after SIGTERM; halt gives callers a plain 0 for a clean stop.
            Runtime.getRuntime().halt(exitStatus);
        }, "entgraph-neo4j-shutdown"));

        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!db.isAvailable(Duration.ofMinutes(2).toMillis())) {
            fail(EXIT_NOT_AVAILABLE, "default database did not become available within 2 minutes; see " + homeDir.resolve("logs"));
        }

        int boundPort = port;
        try {
            HostnamePort hp = ((GraphDatabaseAPI) db).getDependencyResolver()
                    .resolveDependency(ConnectorPortRegister.class).getLocalAddress(ConnectorType.BOLT);
            if (hp != null) boundPort = hp.getPort();
        } catch (RuntimeException e) {
            if (port == 0) fail(EXIT_FAILURE, "cannot determine the Bolt port chosen for port 0: " + e);
        }

        String version = DatabaseManagementServiceBuilder.class.getPackage().getImplementationVersion();
        ERR.printf(Locale.ROOT, "entgraph-neo4j: Neo4j %s community started in %d ms, home %s%n",
                version, (System.nanoTime() - t0) / 1_000_000, homeDir);

        String shownHost = host.contains(":") ? "[" + host + "]" : host;
        OUT.println("READY bolt://" + shownHost + ":" + boundPort);
        OUT.flush();

        if (stopOnStdinEof) {
            Thread watcher = new Thread(() -> {
                try (InputStream in = System.in) {
                    byte[] buf = new byte[256];
                    while (in.read(buf) >= 0) { /* discard */ }
                } catch (IOException ignored) {
                    // treat as EOF
                }
                ERR.println("entgraph-neo4j: stdin closed, stopping");
                System.exit(0); // runs the shutdown hook
            }, "entgraph-neo4j-stdin-watch");
            watcher.setDaemon(true);
            watcher.start();
        }

        try {
            stopped.await(); // main thread just parks; SIGTERM/SIGINT run the hook
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String value(String[] args, int i, String name) {
        if (i >= args.length) usage(name + " needs a value");
        return args[i];
    }

    static long parseBytes(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        char last = v.isEmpty() ? ' ' : v.charAt(v.length() - 1);
        if (last == 'k') mult = 1L << 10;
        else if (last == 'm') mult = 1L << 20;
        else if (last == 'g') mult = 1L << 30;
        if (mult != 1) v = v.substring(0, v.length() - 1);
        try {
            return Long.parseLong(v) * mult;
        } catch (NumberFormatException e) {
            usage("bad size: " + s + " (use e.g. 64m, 1g)");
            return -1;
        }
    }

    private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) return true;
            if (c.getCause() == c) break;
        }
        return false;
    }

    private static boolean hasCauseNamed(Throwable t, String simpleName) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getClass().getSimpleName().equals(simpleName)) return true;
            if (c.getCause() == c) break;
        }
        return false;
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) c = c.getCause();
        return c.getClass().getName() + ": " + c.getMessage();
    }

    private static void usage(String problem) {
        if (problem != null) ERR.println("entgraph-neo4j: " + problem);
        ERR.println("usage: Launcher --home DIR [--bolt 127.0.0.1:7687] [--pagecache 64m] [--conf FILE] [--stop-on-stdin-eof]");
        System.exit(problem == null ? 0 : EXIT_USAGE);
    }

    private static void fail(int code, String message) {
        ERR.println("entgraph-neo4j: ERROR " + message);
        ERR.flush();
        exitStatus = code;
        System.exit(code);
    }
}
