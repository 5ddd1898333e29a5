package fr.budgetod.devstack;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.apache.solr.embedded.JettyConfig;
import org.apache.solr.embedded.JettySolrRunner;

/**
 * Runs Apache Solr in standalone mode in an embedded Jetty, listening on 127.0.0.1 only
 * (JettySolrRunner binds its connector there), with the cores found under the given Solr home.
 * Usage: SolrLauncher SOLR_HOME PORT. It stops on SIGTERM (Jetty's shutdown hook).
 */
public final class SolrLauncher {
  private SolrLauncher() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: SolrLauncher SOLR_HOME PORT");
      System.exit(2);
    }
    Path solrHome = Path.of(args[0]).toAbsolutePath().normalize();
    if (!Files.isRegularFile(solrHome.resolve("solr.xml"))) {
      System.err.println("error: " + solrHome + ": no solr.xml");
      System.exit(2);
    }
    int port = Integer.parseInt(args[1]);
    JettyConfig config = JettyConfig.builder().setPort(port).stopAtShutdown(true).build();
    JettySolrRunner solr = new JettySolrRunner(solrHome.toString(), new Properties(), config);
    solr.start();
    System.out.println("Solr " + org.apache.solr.client.api.util.SolrVersion.LATEST + " listening on "
        + solr.getBaseUrl());
    Thread.currentThread().join();
  }
}
