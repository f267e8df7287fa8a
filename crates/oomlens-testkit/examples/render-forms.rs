//! Renders a raw kmsg capture into every log form of `oomlens_testkit::render`, one file per
//! form, with the fixed context (boot at 2026-11-23T09:00:00Z, host `vm`).
//!
//! ```text
//! cargo run -p oomlens-testkit --example render-forms -- KMSG-FILE OUT-DIR
//! ```

use oomlens_testkit::kmsg;
use oomlens_testkit::render::{self, Context, Form};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out] = args.as_slice() else {
        return Err("usage: render-forms KMSG-FILE OUT-DIR".into());
    };
    let records = kmsg::parse_records(&std::fs::read_to_string(input)?);
    std::fs::create_dir_all(out)?;
    for form in Form::ALL {
        let path = std::path::Path::new(out).join(format!("{}.txt", form.name()));
        std::fs::write(&path, render::render(&records, form, &Context::fixed()))?;
        println!("{}", path.display());
    }
    Ok(())
}
