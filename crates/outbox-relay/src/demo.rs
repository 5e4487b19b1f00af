pub async fn run(_once: bool) -> anyhow::Result<()> {
    anyhow::bail!("demo: not implemented yet")
}
