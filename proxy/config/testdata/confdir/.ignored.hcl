this file is not HCL: Load must skip it because its name starts with a dot
